package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/postwire/postwire/session/smtptest"
)

// serveSinkChild is the child process of the loopback case: an smtptest
// server keeping nothing, on a loopback port it prints, until standard
// input closes (the parent exited or is done with it).
func serveSinkChild() error {
	s := smtptest.NewServer(smtptest.Config{Hostname: "sink.bench", Discard: true})
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(addr)
	io.Copy(io.Discard, os.Stdin)
	return s.Close()
}

// proc is a server this program started; it is stopped by its PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string        // file holding its output, if any
	dir  string        // removed after it stops, if set
}

// start runs cmd in the background, its output in logPath ("" for this
// program's standard error).
func start(name string, cmd *exec.Cmd, logPath string) (*proc, error) {
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM to the process and waits 5 s for it to exit, then
// kills it; then removes its directory.
func (p *proc) stop() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			fmt.Printf("note: %s (pid %d) ignored SIGTERM; killing it\n", p.name, p.cmd.Process.Pid)
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// tail returns the last lines of the process's log, for an error message.
func (p *proc) tail() string {
	if p.log == "" {
		return ""
	}
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// waitListen polls addr until it accepts a connection, at most 15 s, while
// the process lives.
func (p *proc) waitListen(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before listening on %s:\n%s", p.name, addr, p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: %s not listening after 15 s:\n%s", p.name, addr, p.tail())
}

// startSinkChild starts this program again as the loopback case's sink and
// returns its address.
func startSinkChild() (*proc, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(exe, "-sink-child")
	if _, err := cmd.StdinPipe(); err != nil { // closed by Wait, i.e. by stop
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	p, err := start("smtptest sink", cmd, "")
	if err != nil {
		return nil, "", err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			p.stop()
			return nil, "", errors.New("the smtptest sink printed no address")
		}
		return p, addr, nil
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, "", errors.New("the smtptest sink printed no address in 15 s")
	}
}

// findBinary returns the path of name on PATH or in /usr/sbin ("" if
// neither has it).
func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback address with a port the kernel had free.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startSMTPSink starts Postfix's smtp-sink on a loopback port (its default
// extensions: PIPELINING, 8BITMIME, no CHUNKING), keeping no messages.
func startSMTPSink(bin string) (*proc, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "postwire-bench-sink.")
	if err != nil {
		return nil, "", err
	}
	var args []string
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // it refuses to run as root
	}
	args = append(args, "-h", "smtp-sink.bench", addr, "64")
	p, err := start("smtp-sink", exec.Command(bin, args...), filepath.Join(dir, "smtp-sink.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	p.dir = dir
	if err := p.waitListen(addr); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// dovecotConf is Dovecot 2.3's configuration for the LMTP case: everything
// under one temporary directory, one loopback TCP listener, users rcptN
// (the local part of the address) delivered into Maildirs, no fsync (the
// disk is not what is measured).
const dovecotConf = `instance_name = postwire-bench
base_dir = @DIR@/run
state_dir = @DIR@/state
log_path = @DIR@/dovecot.log
info_log_path = @DIR@/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
hostname = dovecot.bench
postmaster_address = postmaster@dovecot.bench
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = scheme=PLAIN @DIR@/users
}
userdb {
  driver = passwd-file
  args = @DIR@/users
}
first_valid_uid = @UID@
first_valid_gid = @GID@
mail_location = maildir:~/Maildir
mail_fsync = never
lmtp_add_received_header = no
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = @PORT@
  }
}
`

// startDovecot starts Dovecot's LMTP server (which offers PIPELINING and
// CHUNKING) on a loopback port with users rcpt0 to rcpt<users-1>, as
// scripts/interop/run.sh does. It must run as root, to deliver as nobody.
func startDovecot(bin string, users int) (*proc, string, error) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		return nil, "", err
	}
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "postwire-bench-dovecot.")
	if err != nil {
		return nil, "", err
	}
	if err := writeDovecotDir(dir, port, nobody, users); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	cmd := exec.Command(bin, "-F", "-c", filepath.Join(dir, "dovecot.conf"))
	p, err := start("dovecot", cmd, filepath.Join(dir, "dovecot.out"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	p.dir = dir
	if err := p.waitListen(addr); err != nil {
		if b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log")); len(b) > 0 {
			err = fmt.Errorf("%w\n%s", err, b)
		}
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

func writeDovecotDir(dir, port string, nobody *user.User, users int) error {
	if err := os.Chmod(dir, 0o755); err != nil { // the mail user must reach its Maildir
		return err
	}
	conf := strings.NewReplacer("@DIR@", dir, "@PORT@", port, "@UID@", nobody.Uid, "@GID@", nobody.Gid).Replace(dovecotConf)
	if err := os.WriteFile(filepath.Join(dir, "dovecot.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	var uid, gid int
	fmt.Sscan(nobody.Uid, &uid)
	fmt.Sscan(nobody.Gid, &gid)
	var list strings.Builder
	for i := range users {
		home := filepath.Join(dir, "mail", fmt.Sprintf("rcpt%d", i))
		if err := os.MkdirAll(home, 0o755); err != nil {
			return err
		}
		if err := os.Chown(home, uid, gid); err != nil {
			return err
		}
		fmt.Fprintf(&list, "rcpt%d:{PLAIN}bench:%s:%s::%s::\n", i, nobody.Uid, nobody.Gid, home)
	}
	return os.WriteFile(filepath.Join(dir, "users"), []byte(list.String()), 0o644)
}
