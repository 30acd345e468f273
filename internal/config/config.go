// Package config reads the server's configuration from environment variables, with the
// defaults README.md documents, and validates it.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/transcript"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is the validated configuration.
type Config struct {
	ListenAddr  string        // LISTEN_ADDR
	DatabaseURL string        // DATABASE_URL; empty starts the embedded PostgreSQL
	ReplicaURL  string        // DATABASE_REPLICA_URL: optional standby for the catalog and public transcripts
	DataDir     string        // DATA_DIR
	PGBin       string        // PG_BIN
	Env         string        // APP_ENV
	LogLevel    slog.Level    // LOG_LEVEL
	Issuer      string        // AUTH_ISSUER
	Audience    string        // AUTH_AUDIENCE
	HS256Secret []byte        // AUTH_HS256_SECRET
	JWKSURL     string        // AUTH_JWKS_URL
	CORSOrigins []string      // CORS_ORIGINS, comma-separated
	RequestTime time.Duration // REQUEST_TIMEOUT
	AdminAddr   string        // ADMIN_LISTEN_ADDR: loopback-only /metrics and pprof listener; empty turns it off
	Hardening   Hardening     // body cap, document and rate limits, timeouts (hardening.go)

	// Renewal reminders (docs/domain.md "Notifications").
	SMTPURL          string        // SMTP_URL; empty logs emails instead (development only)
	SMTPFrom         string        // SMTP_FROM
	PublicURL        string        // PUBLIC_URL: base of links in emails
	ReminderInterval time.Duration // REMINDER_INTERVAL; 0 turns the in-server worker off
	ReminderOffsets  notify.Plan   // REMINDER_OFFSETS
	// WebhookInterval is WEBHOOK_INTERVAL: how often the in-server webhook sender runs the
	// expiry pass and posts due deliveries; 0 turns it off.
	WebhookInterval time.Duration

	// Open Badges credentials (docs/operations.md "Credential signing keys").
	CredentialSigningKey   string // CREDENTIAL_SIGNING_KEY: PEM P-256 private key; required in production
	CredentialPreviousKeys string // CREDENTIAL_PREVIOUS_KEYS: PEM keys of earlier rotations, still published
	// CredentialKeys are the two above, parsed; nil in development until EnsureCredentialKey.
	CredentialKeys *credential.Keys

	// Caps on what one learner may create (the lists they make are priced by these).
	MaxLiveSharesPerProfile int // MAX_LIVE_SHARES_PER_PROFILE: live share codes of a profile
	MaxProfilesPerAccount   int // MAX_PROFILES_PER_ACCOUNT: certification profiles of an account
}

// maxCap bounds the per-learner caps: a list priced at more would make ordinary queries too
// expensive to run under the default QUERY_MAX_COST.
const maxCap = 100

// Production reports whether APP_ENV is production.
func (c Config) Production() bool { return c.Env == EnvProduction }

// Getenv looks a variable up; tests pass a map's lookup instead of os.LookupEnv.
type Getenv func(string) (string, bool)

// Load reads the configuration. In development with no AUTH_HS256_SECRET, a secret is
// generated once and kept in DATA_DIR, so tokens printed at start keep working across restarts.
func Load(env Getenv) (Config, error) {
	get := func(k, def string) string {
		if v, ok := env(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	c := Config{
		ListenAddr:  get("LISTEN_ADDR", "127.0.0.1:8080"),
		DatabaseURL: get("DATABASE_URL", ""),
		ReplicaURL:  get("DATABASE_REPLICA_URL", ""),
		DataDir:     get("DATA_DIR", ".data"),
		PGBin:       get("PG_BIN", ""),
		Env:         get("APP_ENV", EnvDevelopment),
		Issuer:      get("AUTH_ISSUER", "recert-dev"),
		Audience:    get("AUTH_AUDIENCE", "recert"),
		JWKSURL:     get("AUTH_JWKS_URL", ""),
		AdminAddr:   get("ADMIN_LISTEN_ADDR", ""),
	}
	if err := checkDSN("DATABASE_URL", c.DatabaseURL); err != nil {
		return c, err
	}
	if err := checkDSN("DATABASE_REPLICA_URL", c.ReplicaURL); err != nil {
		return c, err
	}
	if c.ReplicaURL != "" && c.DatabaseURL == "" {
		return c, errors.New("DATABASE_REPLICA_URL needs DATABASE_URL (the embedded database has no replica)")
	}
	if c.AdminAddr != "" && !loopback(c.AdminAddr) {
		return c, fmt.Errorf("ADMIN_LISTEN_ADDR: want a loopback address such as 127.0.0.1:6060 (it serves /metrics and pprof)")
	}
	if s := get("AUTH_HS256_SECRET", ""); s != "" {
		c.HS256Secret = []byte(s)
	}
	if o := get("CORS_ORIGINS", ""); o != "" {
		for _, p := range strings.Split(o, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.CORSOrigins = append(c.CORSOrigins, p)
			}
		}
	}
	var err error
	if c.RequestTime, err = time.ParseDuration(get("REQUEST_TIMEOUT", "15s")); err != nil || c.RequestTime <= 0 {
		return c, fmt.Errorf("REQUEST_TIMEOUT: want a positive Go duration such as 15s")
	}
	if err := loadHardening(get, &c); err != nil {
		return c, err
	}
	if err := c.loadReminders(get); err != nil {
		return c, err
	}
	if err := c.loadCaps(get); err != nil {
		return c, err
	}
	if err := c.loadCredentialKeys(env); err != nil {
		return c, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: want debug, info, warn or error")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("DATA_DIR: %w", err)
	}
	c.DataDir = abs
	switch c.Env {
	case EnvDevelopment:
	case EnvProduction:
		if len(c.HS256Secret) > 0 {
			// A development secret that leaked (or was copied along with the environment) would
			// mint any identity, admin included: production accepts JWKS-signed tokens only.
			return c, errors.New("APP_ENV=production refuses AUTH_HS256_SECRET (HS256 secrets are for development; unset it and use AUTH_JWKS_URL)")
		}
		if c.DatabaseURL == "" {
			return c, errors.New("APP_ENV=production needs DATABASE_URL (the embedded database is for development)")
		}
		if c.JWKSURL == "" {
			return c, errors.New("APP_ENV=production needs AUTH_JWKS_URL (HS256 secrets are for development)")
		}
		if c.CredentialSigningKey == "" {
			// A key generated on the machine would change with every deploy and every replica:
			// credentials issued earlier would stop verifying.
			return c, errors.New("APP_ENV=production needs CREDENTIAL_SIGNING_KEY (a PEM P-256 private key; docs/operations.md)")
		}
		if get("AUTH_ISSUER", "") == "" || get("AUTH_AUDIENCE", "") == "" {
			return c, errors.New("APP_ENV=production needs AUTH_ISSUER and AUTH_AUDIENCE")
		}
	default:
		return c, fmt.Errorf("APP_ENV: want %s or %s, got %q", EnvDevelopment, EnvProduction, c.Env)
	}
	return c, nil
}

// loopback reports whether addr (host:port) names a loopback host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) loadReminders(get func(k, def string) string) error {
	c.SMTPURL = get("SMTP_URL", "")
	c.SMTPFrom = get("SMTP_FROM", "Recert <no-reply@localhost>")
	c.PublicURL = get("PUBLIC_URL", "http://"+c.ListenAddr)
	var err error
	if c.ReminderInterval, err = time.ParseDuration(get("REMINDER_INTERVAL", "1m")); err != nil || c.ReminderInterval < 0 {
		return fmt.Errorf("REMINDER_INTERVAL: want a Go duration such as 1m (0 turns the worker off)")
	}
	if c.ReminderOffsets, err = notify.ParsePlan(get("REMINDER_OFFSETS", notify.DefaultOffsets)); err != nil {
		return fmt.Errorf("REMINDER_OFFSETS: %w", err)
	}
	if c.WebhookInterval, err = time.ParseDuration(get("WEBHOOK_INTERVAL", "15s")); err != nil || c.WebhookInterval < 0 {
		return fmt.Errorf("WEBHOOK_INTERVAL: want a Go duration such as 15s (0 turns the sender off)")
	}
	return nil
}

func (c *Config) loadCaps(get func(k, def string) string) error {
	for _, v := range []struct {
		key string
		def int
		out *int
	}{
		{"MAX_LIVE_SHARES_PER_PROFILE", transcript.DefaultMaxLiveShares, &c.MaxLiveSharesPerProfile},
		{"MAX_PROFILES_PER_ACCOUNT", certprofile.DefaultMaxProfilesPerAccount, &c.MaxProfilesPerAccount},
	} {
		n, err := strconv.Atoi(get(v.key, strconv.Itoa(v.def)))
		if err != nil || n < 1 || n > maxCap {
			return fmt.Errorf("%s: want a whole number from 1 to %d", v.key, maxCap)
		}
		*v.out = n
	}
	return nil
}

// loadCredentialKeys reads the credential keys (PEM, so not trimmed line by line) and checks
// that they parse, so a bad key stops the start rather than the first credential.
func (c *Config) loadCredentialKeys(env Getenv) error {
	if v, ok := env("CREDENTIAL_SIGNING_KEY"); ok {
		c.CredentialSigningKey = strings.TrimSpace(v)
	}
	if v, ok := env("CREDENTIAL_PREVIOUS_KEYS"); ok {
		c.CredentialPreviousKeys = strings.TrimSpace(v)
	}
	if c.CredentialSigningKey == "" {
		return nil // development: EnsureCredentialKey; production: refused below
	}
	keys, err := credential.NewKeys(c.CredentialSigningKey, c.CredentialPreviousKeys)
	if err != nil {
		return fmt.Errorf("CREDENTIAL_SIGNING_KEY / CREDENTIAL_PREVIOUS_KEYS: %w", err)
	}
	c.CredentialKeys = keys
	return nil
}

// EnsureCredentialKey fills CredentialSigningKey in development when none is configured: the
// key kept in DATA_DIR (credential.DevKeyFile, mode 0600), generated the first time. Production
// never gets here without one (Load refuses).
func (c *Config) EnsureCredentialKey() error {
	if c.CredentialSigningKey != "" || c.Production() {
		return nil
	}
	key, _, err := credential.EnsureDevKey(c.DataDir)
	if err != nil {
		return err
	}
	keys, err := credential.NewKeys(key, c.CredentialPreviousKeys)
	if err != nil {
		return fmt.Errorf("CREDENTIAL_PREVIOUS_KEYS: %w", err)
	}
	c.CredentialSigningKey, c.CredentialKeys = key, keys
	return nil
}

// devSecretFile holds the generated development secret inside DATA_DIR.
const devSecretFile = "dev-hs256-secret"

// EnsureDevSecret fills HS256Secret in development when none is configured: it reads the one
// kept in DATA_DIR or generates and stores a new one. It reports whether it did so.
func (c *Config) EnsureDevSecret() (bool, error) {
	if len(c.HS256Secret) > 0 || c.Production() {
		return false, nil
	}
	path := filepath.Join(c.DataDir, devSecretFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		c.HS256Secret = []byte(strings.TrimSpace(string(b)))
		return true, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return false, err
	}
	secret := hex.EncodeToString(buf)
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return false, fmt.Errorf("create DATA_DIR: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("store development secret: %w", err)
	}
	c.HS256Secret = []byte(secret)
	return true, nil
}

// checkDSN refuses the one multi-host form lib/pq misreads: a URL whose host list carries
// ports (postgres://h1:6001,h2:6002/db). lib/pq splits only the last port off, so it would
// dial "h1:6001,h2" on 6002 and h1:6001 on 5432. The working forms are the URL with the
// ports in the query (postgres://h1,h2/db?port=6001,6002) and key=value
// (host=h1,h2 port=6001,6002); docs/operations.md "Database connection".
func checkDSN(key, dsn string) error {
	rest, ok := strings.CutPrefix(dsn, "postgres://")
	if !ok {
		rest, ok = strings.CutPrefix(dsn, "postgresql://")
	}
	if !ok {
		return nil
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.Contains(rest, ",") && strings.Contains(rest, ":") {
		return fmt.Errorf("%s: a URL with several hosts cannot carry their ports in the host list "+
			"(lib/pq would dial the wrong addresses); write postgres://host1,host2/dbname?port=6001,6002"+
			"&target_session_attrs=read-write, or the key=value form host=host1,host2 port=6001,6002", key)
	}
	return nil
}
