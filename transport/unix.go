package transport

import (
	"context"
	"net"
	"path/filepath"
)

// DialUnix connects to the stream Unix socket at path, e.g.
// "/var/run/dovecot/lmtp", as smtplib's LMTP class does for a host that
// starts with "/".
//
// path must be absolute: a relative path would depend on the process's
// working directory, so it is refused with a *DialError wrapping
// ErrRelativePath before anything is dialled. Options apply as for Dial
// (LocalAddr, if set, must then be a *net.UnixAddr).
func DialUnix(ctx context.Context, path string, o Options) (net.Conn, error) {
	if !filepath.IsAbs(path) {
		return nil, &DialError{Network: "unix", Addr: path, Err: ErrRelativePath}
	}
	return Dial(ctx, "unix", path, o)
}
