package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog/seed"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/pgserver"
	"github.com/recert/recert/internal/postgres"
)

// haCluster is a primary with a migrated database "recert" holding the shipped catalog, and,
// after addStandby, a hot standby streaming from it.
type haCluster struct {
	primary, standby *pgserver.Server
	dir              string // the primary's data under dir/p, the standby's under dir/s
	cfg              config.Config
	clock            *clock.Settable
}

// startDatabase starts the primary, with the test server configuration plus env.
func startDatabase(t *testing.T, env map[string]string) *haCluster {
	t.Helper()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rcha") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c := &haCluster{dir: dir, clock: clock.NewSettable(apitest.Start)}
	c.primary, err = pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "p"), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.primary.Stop() })
	if err := c.primary.EnsureDatabase(ctx, "recert"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"AUTH_HS256_SECRET": apitest.Secret, "AUTH_ISSUER": apitest.Issuer,
		"AUTH_AUDIENCE": apitest.Audience, "REQUEST_TIMEOUT": "5s", "DB_CONNECT_TIMEOUT": "2s",
		"RATE_LIMIT_RPS": "0", "RATE_LIMIT_ANON_RPS": "0", "RATE_LIMIT_SUPPORT_PER_MINUTE": "0",
		"RATE_LIMIT_SUPPORT_READS_PER_MINUTE": "0", "RATE_LIMIT_MERGES_PER_MINUTE": "0"}
	for k, v := range env {
		vars[k] = v
	}
	c.cfg, err = config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	db := c.open(t, c.primary.DSN("recert"))
	if err := postgres.Migrate(ctx, db.DB, c.migrations(t)); err != nil {
		t.Fatal(err)
	}
	cat, err := seed.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.New(db).LoadCatalog(ctx, cat, c.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *haCluster) migrations(t *testing.T) fs.FS {
	return os.DirFS(filepath.Join(moduleRoot(t), "migrations"))
}

// addStandby starts a hot standby of the primary.
func (c *haCluster) addStandby(t *testing.T) {
	t.Helper()
	var err error
	c.standby, err = c.primary.StartStandby(context.Background(), pgserver.Options{DataDir: filepath.Join(c.dir, "s"), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.standby.Stop() })
}

// open opens a pool on dsn with the configuration's timeouts, as the server does.
func (c *haCluster) open(t *testing.T, dsn string) *sqlx.DB {
	t.Helper()
	dsn, err := postgres.WithParams(dsn, c.cfg.Hardening.DSNOptions())
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// api builds the server on db, with replica as its read replica when not nil; its /readyz
// checks the repository's migrations.
func (c *haCluster) api(t *testing.T, db, replica *sqlx.DB, reg *prometheus.Registry) http.Handler {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.Config{Issuer: apitest.Issuer, Audience: apitest.Audience,
		HS256Secret: []byte(apitest.Secret)}, c.clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	services := app.NewServices(c.cfg, db, c.clock)
	if replica != nil {
		services = services.UseReplica(replica)
	}
	srv, err := app.New(app.Deps{Config: c.cfg, DB: db, Replica: replica, Services: services, Clock: c.clock,
		Verifier: v, Log: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Registry: reg, Migrations: c.migrations(t)})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

// gql sends one GraphQL request as id (anonymous when id has no subject).
func (c *haCluster) gql(t *testing.T, h http.Handler, id apitest.Identity, query string, vars map[string]any) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if id.Subject != "" {
		tok, err := auth.MintDev([]byte(apitest.Secret), apitest.Issuer, apitest.Audience, c.clock.Now(),
			auth.DevToken{Subject: id.Subject, Personal: id.Personal, Roles: id.Roles, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func readyz(h http.Handler) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code
}

// gauge reads one gauge of reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// eventually polls cond until it holds or a minute passes: the test waits for replication,
// not for a fixed time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pauseReplay stops the standby applying WAL, and waits until it has stopped.
func pauseReplay(t *testing.T, replica *sqlx.DB) {
	t.Helper()
	if _, err := replica.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replay to pause", func() bool {
		var state string
		_ = replica.Get(&state, `SELECT pg_get_wal_replay_pause_state()`)
		return state == "paused"
	})
}

// catchUp waits until the standby has replayed everything the primary has written so far.
func catchUp(t *testing.T, primary, replica *sqlx.DB) {
	t.Helper()
	var lsn string
	if err := primary.Get(&lsn, `SELECT pg_current_wal_lsn()::text`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replica to catch up", func() bool {
		var done bool
		_ = replica.Get(&done, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn)
		return done
	})
}

const (
	createAda   = `mutation { createCertificationProfile(input: {legalName: "Ada Lovelace", email: "ada@example.com"}) { certificationProfile { id mcid } } }`
	catalogName = `{ certification(code: "azure-fundamentals") { name } }`
)

// Issue 15 points 1 and 3, on a real primary and hot standby.
func TestWithAStandby(t *testing.T) {
	c := startDatabase(t, nil)
	c.addStandby(t)
	learner := apitest.Learner("ha-learner")

	// A server whose database is a standby (a primary demoted by a failover, or a URL without
	// target_session_attrs=read-write) reads, but answers writes with UNAVAILABLE, 503 and
	// Retry-After, never INTERNAL or SQL; /readyz fails.
	t.Run("standby", func(t *testing.T) {
		h := c.api(t, c.open(t, c.standby.DSN("recert")), nil, nil)
		if rec := c.gql(t, h, apitest.Anonymous, catalogName, nil); rec.Code != 200 || firstCode(t, rec) != "" {
			t.Fatalf("catalog read on the standby: got %d %s", rec.Code, rec.Body)
		}
		rec := c.gql(t, h, learner, createAda, nil)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "2" ||
			firstCode(t, rec) != "UNAVAILABLE" || strings.Contains(rec.Body.String(), "read-only") {
			t.Fatalf("write on the standby: got %d Retry-After %q %s, want 503 UNAVAILABLE without SQL",
				rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		if got := readyz(h); got != http.StatusServiceUnavailable {
			t.Errorf("readyz on a standby: got %d, want 503", got)
		}
	})

	// A multi-host key=value DSN with target_session_attrs=read-write skips the standby listed
	// first and connects to the primary; with standby it picks the standby. The timeouts added
	// to it still reach every connection.
	t.Run("multi-host DSN", func(t *testing.T) {
		for attrs, wantRecovery := range map[string]bool{"read-write": false, "standby": true, "prefer-standby": true} {
			dsn := fmt.Sprintf("host=%s,%s port=%d,%d user=postgres dbname=recert sslmode=disable target_session_attrs=%s",
				c.standby.SocketDir(), c.primary.SocketDir(), c.standby.Port(), c.primary.Port(), attrs)
			db := c.open(t, dsn)
			var recovery bool
			var timeout string
			if err := db.QueryRow(`SELECT pg_is_in_recovery(), current_setting('statement_timeout')`).Scan(&recovery, &timeout); err != nil {
				t.Fatalf("%s: %v", attrs, err)
			}
			if recovery != wantRecovery || timeout != "10s" {
				t.Errorf("target_session_attrs=%s: in recovery %v, statement_timeout %s; want %v, 10s", attrs, recovery, timeout, wantRecovery)
			}
		}
	})

	// With a replica: the catalog and public transcripts read from it; the caller's own data,
	// and a catalog admin's reads, from the primary. Replay on the standby is paused, so
	// whatever the primary writes meanwhile is visible only where the primary is read.
	t.Run("replica routing", func(t *testing.T) {
		primary, replica := c.open(t, c.primary.DSN("recert")), c.open(t, c.standby.DSN("recert"))
		reg := prometheus.NewRegistry()
		h := c.api(t, primary, replica, reg)
		pauseReplay(t, replica)
		if _, err := primary.Exec(`UPDATE certifications SET name = 'Renamed on the primary' WHERE code = 'azure-fundamentals'`); err != nil {
			t.Fatal(err)
		}
		if rec := c.gql(t, h, apitest.Anonymous, catalogName, nil); strings.Contains(rec.Body.String(), "Renamed") || firstCode(t, rec) != "" {
			t.Errorf("anonymous catalog read: got %s, want the replica's (old) name", rec.Body)
		}
		if rec := c.gql(t, h, learner, catalogName, nil); strings.Contains(rec.Body.String(), "Renamed") {
			t.Errorf("learner's catalog read: got %s, want the replica's (old) name", rec.Body)
		}
		if rec := c.gql(t, h, apitest.Admin("catalog-admin"), catalogName, nil); !strings.Contains(rec.Body.String(), "Renamed on the primary") {
			t.Errorf("catalog admin's read: got %s, want the primary's name (read-your-writes)", rec.Body)
		}
		// A write, then the caller's own read: always fresh.
		var created struct {
			Data struct {
				CreateCertificationProfile struct{ CertificationProfile struct{ ID, MCID string } }
			}
		}
		rec := c.gql(t, h, learner, createAda, nil)
		if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || firstCode(t, rec) != "" {
			t.Fatalf("create profile: %s", rec.Body)
		}
		profile := created.Data.CreateCertificationProfile.CertificationProfile
		rec = c.gql(t, h, learner, `{ viewer { certificationProfiles { mcid legalName } } }`, nil)
		if !strings.Contains(rec.Body.String(), `"mcid":"`+profile.MCID+`"`) {
			t.Fatalf("own read right after the write: got %s, want the new profile", rec.Body)
		}
		// A share of a profile the replica does not have yet still shows (read from the primary).
		var share struct {
			Data struct {
				CreateTranscriptShare struct{ Share struct{ Code string } }
			}
		}
		rec = c.gql(t, h, learner, `mutation($id: ID!) { createTranscriptShare(input: {certificationProfileId: $id}) { share { code } } }`,
			map[string]any{"id": profile.ID})
		if err := json.Unmarshal(rec.Body.Bytes(), &share); err != nil || firstCode(t, rec) != "" {
			t.Fatalf("create share: %s", rec.Body)
		}
		transcript := `query($c: String!) { transcript(shareCode: $c) { legalName mcid } }`
		vars := map[string]any{"c": share.Data.CreateTranscriptShare.Share.Code}
		if rec := c.gql(t, h, apitest.Anonymous, transcript, vars); !strings.Contains(rec.Body.String(), `"legalName":"Ada Lovelace"`) {
			t.Fatalf("public transcript of a profile newer than the replica: got %s", rec.Body)
		}
		eventually(t, "recert_replica_lag_bytes > 0 while replay is paused", func() bool {
			return gauge(t, reg, "recert_replica_lag_bytes") > 0
		})
		if _, err := replica.Exec(`SELECT pg_wal_replay_resume()`); err != nil {
			t.Fatal(err)
		}
		catchUp(t, primary, replica)
		if rec := c.gql(t, h, apitest.Anonymous, catalogName, nil); !strings.Contains(rec.Body.String(), "Renamed on the primary") {
			t.Errorf("anonymous catalog read once the replica caught up: got %s", rec.Body)
		}
		eventually(t, "the lag to reach 0", func() bool {
			return gauge(t, reg, "recert_replica_lag_bytes") == 0 && gauge(t, reg, "recert_replica_lag_seconds") == 0
		})
		if got := gauge(t, reg, "recert_replica_up"); got != 1 {
			t.Errorf("recert_replica_up: got %v", got)
		}
	})
}
