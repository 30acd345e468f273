module github.com/recert/recert/ops/ha-drill

go 1.26.8

require (
	github.com/emersion/go-smtp v0.25.1
	github.com/google/uuid v1.6.0
	github.com/lib/pq v1.12.3
	github.com/recert/recert v0.0.0-00010101000000-000000000000
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.2 // indirect
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.16.0 // indirect
)

// The drill builds and drives the server of this repository: always the code beside it.
replace github.com/recert/recert => ../../
