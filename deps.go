//go:build tools

package postwire

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/pion/transport/v3/dpipe"
	_ "pgregory.net/rapid"
)
