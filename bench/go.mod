module github.com/postwire/postwire/bench

go 1.24

require (
	github.com/emersion/go-smtp v0.25.1
	github.com/google/go-cmp v0.7.0
	github.com/postwire/postwire v0.0.0-00010101000000-000000000000
)

require (
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/pion/transport/v3 v3.1.1 // indirect
)

replace github.com/postwire/postwire => ../
