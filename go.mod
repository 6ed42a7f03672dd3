module github.com/postwire/postwire

go 1.26

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/pion/transport/v3 v3.1.1 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
