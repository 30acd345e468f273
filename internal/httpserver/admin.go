package httpserver

import (
	"net/http"
	"net/http/pprof"
)

// AdminHandler serves the Go profiler (net/http/pprof) under /debug/pprof/. server.go mounts
// it only on ADMIN_LISTEN_ADDR, which config accepts only on a loopback address, so profiles
// are never reachable from the API's listener (issue 8).
func AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
