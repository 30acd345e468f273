// Package node declares the Go side of the GraphQL Node interface. Domain types are bound to
// Node without methods of their own: graph/ids.go gives every one its opaque id.
package node

// Node is any object the API can fetch by id.
type Node interface{}
