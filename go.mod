module github.com/postwire/postwire

go 1.24

require (
	github.com/google/go-cmp v0.7.0
	github.com/pion/transport/v3 v3.1.1
	pgregory.net/rapid v1.3.0
)
