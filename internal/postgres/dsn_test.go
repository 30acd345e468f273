package postgres_test

import (
	"testing"

	"github.com/lib/pq"

	"github.com/recert/recert/internal/postgres"
)

// Issue 15: the two multi-host forms docs/operations.md gives keep their host and port lists
// and target_session_attrs once WithParams has added the timeouts, as lib/pq reads them.
func TestMultiHostDSNForms(t *testing.T) {
	timeouts := map[string]string{"connect_timeout": "5", "statement_timeout": "10000"}
	for _, dsn := range []string{
		"postgres://app:secret@db1,db2,db3/recert?port=6001,6002,6003&target_session_attrs=read-write&sslmode=disable",
		"host=db1,db2,db3 port=6001,6002,6003 user=app password=secret dbname=recert target_session_attrs=read-write sslmode=disable",
	} {
		withTimeouts, err := postgres.WithParams(dsn, timeouts)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		cfg, err := pq.NewConfig(withTimeouts)
		if err != nil {
			t.Fatalf("%s: %v", withTimeouts, err)
		}
		hosts := []string{cfg.Host}
		ports := []uint16{cfg.Port}
		for _, m := range cfg.Multi {
			hosts = append(hosts, m.Host)
			ports = append(ports, m.Port)
		}
		if len(hosts) != 3 || hosts[0] != "db1" || hosts[1] != "db2" || hosts[2] != "db3" ||
			ports[0] != 6001 || ports[1] != 6002 || ports[2] != 6003 {
			t.Errorf("%s: hosts %v ports %v, want db1..db3 on 6001..6003", dsn, hosts, ports)
		}
		if cfg.TargetSessionAttrs != pq.TargetSessionAttrsReadWrite || cfg.Database != "recert" ||
			cfg.Runtime["statement_timeout"] != "10000" {
			t.Errorf("%s: attrs %q db %q runtime %v", dsn, cfg.TargetSessionAttrs, cfg.Database, cfg.Runtime)
		}
	}
	// The trap config.Load refuses: ports in a URL's host list are misread.
	cfg, err := pq.NewConfig("postgres://db1:6001,db2:6002/recert")
	if err == nil && len(cfg.Multi) == 1 && cfg.Multi[0].Port == 6002 && cfg.Host == "db1" && cfg.Port == 6001 {
		t.Log("lib/pq now reads a URL host list with ports correctly; the check in config.checkDSN can go")
	}
}
