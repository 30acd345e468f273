package main

import (
	"testing"

	"github.com/lib/pq"
)

func TestMultiHostDSNListsEveryMemberForLibPQ(t *testing.T) {
	nodes := []pgNode{{"127.0.0.1", 6001}, {"127.0.0.1", 6002}, {"127.0.0.1", 6003}}
	dsn, err := multiHostDSN(nodes, "recert", "recert", "p w'd\\x", map[string]string{"connect_timeout": "2"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		t.Fatalf("lib/pq refuses %q: %v", dsn, err)
	}
	if cfg.Host != "127.0.0.1" || cfg.Port != 6001 {
		t.Fatalf("first member = %s:%d, want 127.0.0.1:6001 (dsn %q)", cfg.Host, cfg.Port, dsn)
	}
	if len(cfg.Multi) != 2 || cfg.Multi[0].Port != 6002 || cfg.Multi[1].Port != 6003 {
		t.Fatalf("other members = %+v, want ports 6002 and 6003 (dsn %q)", cfg.Multi, dsn)
	}
	if cfg.TargetSessionAttrs != pq.TargetSessionAttrsReadWrite {
		t.Fatalf("target_session_attrs = %q, want read-write", cfg.TargetSessionAttrs)
	}
	if cfg.Password != "p w'd\\x" || cfg.Database != "recert" || cfg.ConnectTimeout.Seconds() != 2 {
		t.Fatalf("password %q, dbname %q, connect_timeout %s not read back", cfg.Password, cfg.Database, cfg.ConnectTimeout)
	}
}

func TestMultiHostDSNRefusesBadMembers(t *testing.T) {
	for _, nodes := range [][]pgNode{nil, {{"", 1}}, {{"a,b", 1}}, {{"h", 0}}, {{"h", 70000}}} {
		if _, err := multiHostDSN(nodes, "d", "u", "p", nil); err == nil {
			t.Errorf("%v: want an error", nodes)
		}
	}
}
