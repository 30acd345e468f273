package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recert/recert/internal/credential"
)

func env(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:8080" || c.Env != EnvDevelopment || c.DatabaseURL != "" {
		t.Fatalf("got %+v, want development defaults on 127.0.0.1:8080", c)
	}
}

func TestProductionRefusesWithoutDatabaseOrKeys(t *testing.T) {
	cases := map[string]map[string]string{
		"no database": {"APP_ENV": "production", "AUTH_JWKS_URL": "https://k", "AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a"},
		"no jwks":     {"APP_ENV": "production", "DATABASE_URL": "postgres://x", "AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a"},
	}
	for name, m := range cases {
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "production") {
			t.Errorf("%s: got %v, want a production error", name, err)
		}
	}
}

func TestDevSecretIsKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	c1, _ := Load(env(map[string]string{"DATA_DIR": dir}))
	if _, err := c1.EnsureDevSecret(); err != nil {
		t.Fatal(err)
	}
	c2, _ := Load(env(map[string]string{"DATA_DIR": dir}))
	if _, err := c2.EnsureDevSecret(); err != nil {
		t.Fatal(err)
	}
	if len(c1.HS256Secret) < 32 || string(c1.HS256Secret) != string(c2.HS256Secret) {
		t.Fatalf("got secrets %q and %q, want one stable secret of 32+ bytes", c1.HS256Secret, c2.HS256Secret)
	}
}

func TestAdminListenerIsLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "localhost:6060": true, "[::1]:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.5:6060": false, "example.com:6060": false, "6060": false,
	} {
		c, err := Load(env(map[string]string{"ADMIN_LISTEN_ADDR": addr}))
		if ok && (err != nil || c.AdminAddr != addr) {
			t.Errorf("%s: got %v, want it accepted", addr, err)
		}
		if !ok && err == nil {
			t.Errorf("%s: got no error, want it refused (pprof must stay on loopback)", addr)
		}
	}
}

func TestReminderSettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReminderInterval != time.Minute || c.ReminderOffsets.String() != "window,90d,30d,7d" || c.SMTPURL != "" {
		t.Fatalf("got interval %s, offsets %s, SMTP %q; want 1m, window,90d,30d,7d and none", c.ReminderInterval, c.ReminderOffsets, c.SMTPURL)
	}
	c, err = Load(env(map[string]string{"REMINDER_INTERVAL": "0", "REMINDER_OFFSETS": "60d,14d"}))
	if err != nil || c.ReminderInterval != 0 || c.ReminderOffsets.String() != "60d,14d" {
		t.Fatalf("got %v, %s, %s; want 0 and 60d,14d", err, c.ReminderInterval, c.ReminderOffsets)
	}
	for _, bad := range []map[string]string{{"REMINDER_INTERVAL": "soon"}, {"REMINDER_INTERVAL": "-1m"},
		{"REMINDER_OFFSETS": "7d,30d"}, {"REMINDER_OFFSETS": "window,90d,60d,30d,7d"}} {
		if _, err := Load(env(bad)); err == nil {
			t.Errorf("%v: got no error, want one", bad)
		}
	}
}

// A development HS256 secret in a production environment would let whoever holds it mint any
// identity, admin included: production refuses to start with one (issue 11).
func TestProductionRefusesAnHS256Secret(t *testing.T) {
	prod := map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://x", "AUTH_JWKS_URL": "https://idp.example/keys",
		"AUTH_ISSUER": "https://idp.example", "AUTH_AUDIENCE": "recert", "DATA_DIR": t.TempDir(), "CREDENTIAL_SIGNING_KEY": testKey(t)}
	c, err := Load(env(prod))
	if err != nil || len(c.HS256Secret) != 0 {
		t.Fatalf("production with JWKS only: got %v (secret %d bytes), want it accepted without a secret", err, len(c.HS256Secret))
	}
	prod["AUTH_HS256_SECRET"] = "a-development-secret-0123456789abcdef"
	if _, err := Load(env(prod)); err == nil || !strings.Contains(err.Error(), "AUTH_HS256_SECRET") {
		t.Fatalf("production with AUTH_HS256_SECRET: got %v, want a refusal naming it", err)
	}
	// Development keeps accepting it.
	if c, err := Load(env(map[string]string{"AUTH_HS256_SECRET": prod["AUTH_HS256_SECRET"], "DATA_DIR": t.TempDir()})); err != nil || len(c.HS256Secret) == 0 {
		t.Fatalf("development: got %v, want the secret loaded", err)
	}
}

func TestCapsOnWhatALearnerCreates(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.MaxLiveSharesPerProfile != 20 || c.MaxProfilesPerAccount != 5 {
		t.Fatalf("got %v, shares %d, profiles %d; want the defaults 20 and 5", err, c.MaxLiveSharesPerProfile, c.MaxProfilesPerAccount)
	}
	c, err = Load(env(map[string]string{"MAX_LIVE_SHARES_PER_PROFILE": "3", "MAX_PROFILES_PER_ACCOUNT": "1"}))
	if err != nil || c.MaxLiveSharesPerProfile != 3 || c.MaxProfilesPerAccount != 1 {
		t.Fatalf("got %v, shares %d, profiles %d; want 3 and 1", err, c.MaxLiveSharesPerProfile, c.MaxProfilesPerAccount)
	}
	for _, bad := range []map[string]string{{"MAX_LIVE_SHARES_PER_PROFILE": "0"}, {"MAX_LIVE_SHARES_PER_PROFILE": "101"},
		{"MAX_PROFILES_PER_ACCOUNT": "-1"}, {"MAX_PROFILES_PER_ACCOUNT": "five"}} {
		if _, err := Load(env(bad)); err == nil {
			t.Errorf("%v: got no error, want one", bad)
		}
	}
}

func testKey(*testing.T) string { return credential.MustGenerateKeyPEM() }

// Credentials signed by a key generated on the machine would stop verifying with the next
// deploy or on another replica: production refuses to start without CREDENTIAL_SIGNING_KEY,
// and refuses one that is not a P-256 key (issue 17).
func TestProductionNeedsACredentialSigningKey(t *testing.T) {
	prod := map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://x", "AUTH_JWKS_URL": "https://idp.example/keys",
		"AUTH_ISSUER": "https://idp.example", "AUTH_AUDIENCE": "recert", "DATA_DIR": t.TempDir()}
	if _, err := Load(env(prod)); err == nil || !strings.Contains(err.Error(), "CREDENTIAL_SIGNING_KEY") {
		t.Fatalf("production without CREDENTIAL_SIGNING_KEY: got %v, want a refusal naming it", err)
	}
	prod["CREDENTIAL_SIGNING_KEY"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
	if _, err := Load(env(prod)); err == nil || !strings.Contains(err.Error(), "CREDENTIAL_SIGNING_KEY") {
		t.Fatalf("production with a broken key: got %v, want a refusal naming it", err)
	}
	prod["CREDENTIAL_SIGNING_KEY"] = testKey(t)
	c, err := Load(env(prod))
	if err != nil || c.CredentialKeys == nil {
		t.Fatalf("production with a key: got %v, want it loaded", err)
	}
	if err := c.EnsureCredentialKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, credential.DevKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("production wrote a development key: %v", err)
	}
}

// Development generates the signing key once into DATA_DIR (mode 0600) and keeps using it.
func TestDevelopmentKeepsItsCredentialKey(t *testing.T) {
	dir := t.TempDir()
	load := func() Config {
		c, err := Load(env(map[string]string{"DATA_DIR": dir}))
		if err != nil {
			t.Fatal(err)
		}
		if c.CredentialKeys != nil {
			t.Fatal("development loaded a key before EnsureCredentialKey")
		}
		if err := c.EnsureCredentialKey(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := load()
	st, err := os.Stat(filepath.Join(dir, credential.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: got %v, want 0600", st.Mode().Perm())
	}
	if second := load(); second.CredentialKeys.KeyID() != first.CredentialKeys.KeyID() {
		t.Fatalf("kid after restart: got %s, want %s", second.CredentialKeys.KeyID(), first.CredentialKeys.KeyID())
	}
}

// Issue 15: the URL form with ports in the host list is refused at start with the forms that
// work; those, and key=value, load. The pool lifetimes have defaults and can be set.
func TestDatabaseURLForms(t *testing.T) {
	for _, bad := range []string{
		"postgres://db1:6001,db2:6002/recert?target_session_attrs=read-write",
		"postgresql://u:p@db1:6001,db2/recert",
	} {
		_, err := Load(env(map[string]string{"DATABASE_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "port=6001,6002") {
			t.Errorf("DATABASE_URL=%s: got %v, want the multi-host URL refused with the working form", bad, err)
		}
		_, err = Load(env(map[string]string{"DATABASE_URL": "postgres://x/y", "DATABASE_REPLICA_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "DATABASE_REPLICA_URL") {
			t.Errorf("DATABASE_REPLICA_URL=%s: got %v, want it refused", bad, err)
		}
	}
	for _, good := range []string{
		"postgres://db1,db2/recert?port=6001,6002&target_session_attrs=read-write",
		"postgres://u:p@db1:6001/recert",
		"host=db1,db2 port=6001,6002 dbname=recert target_session_attrs=read-write",
	} {
		c, err := Load(env(map[string]string{"DATABASE_URL": good}))
		if err != nil || c.DatabaseURL != good {
			t.Errorf("DATABASE_URL=%s: got %v", good, err)
		}
	}
	c, err := Load(env(nil))
	if err != nil || c.Hardening.DBConnMaxLifetime != 5*time.Minute || c.Hardening.DBConnMaxIdleTime != time.Minute {
		t.Fatalf("pool defaults: %+v, %v", c.Hardening, err)
	}
	c, err = Load(env(map[string]string{"DB_CONN_MAX_LIFETIME": "30s", "DB_CONN_MAX_IDLE_TIME": "10s"}))
	if err != nil || c.Hardening.DBConnMaxLifetime != 30*time.Second || c.Hardening.DBConnMaxIdleTime != 10*time.Second {
		t.Fatalf("pool settings: %+v, %v", c.Hardening, err)
	}
	if _, err := Load(env(map[string]string{"DATABASE_REPLICA_URL": "postgres://r/y"})); err == nil {
		t.Error("a replica without DATABASE_URL loaded")
	}
}
