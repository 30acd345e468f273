package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child that dies before answering its readiness probe is reported as such as soon as it
// exits (it used to be polled for 60 seconds, then reported as "not ready in 60s").
func TestStartReportsAChildThatExits(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	c := &child{name: "recert", cmd: exec.Command("sh", "-c", "exit 3"), addr: addr}
	done := make(chan error, 1)
	go func() { done <- e.start(context.Background(), c, "/readyz") }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "exit status 3") {
			t.Fatalf("got %v, want the child's exit reported", err)
		}
	case <-time.After(readyTimeout / 2): // far longer than noticing an exit takes, far shorter than the bound
		t.Fatal("start kept polling a child that had exited")
	}
}

// stopServers ends a child that never got ready (a failed start must not leave it running).
func TestStopServersEndsAStartedChild(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	e.recert = &child{name: "recert", cmd: exec.Command("sleep", "600"), addr: addr}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the bench is interrupted while the child starts
	if err := e.start(ctx, e.recert, "/readyz"); err == nil {
		t.Fatal("start with an interrupted bench: got no error")
	}
	c := e.recert
	e.stopServers()
	select {
	case <-c.exited:
	default:
		t.Fatal("the child still runs after stopServers")
	}
	if err := c.cmd.Process.Signal(syscall.Signal(0)); err == nil {
		t.Fatal("the child's process still exists after stopServers")
	}
}

// The bench builds the server's module, not its own (bench/ is a module of its own): from
// bench/, as `go test` runs, the root is the directory above.
func TestModuleRootIsTheServers(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "server.go")); err != nil {
		t.Fatalf("got root %s without server.go: %v", root, err)
	}
}
