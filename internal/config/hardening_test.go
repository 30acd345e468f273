package config

import (
	"strings"
	"testing"
	"time"
)

func loadWith(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	return Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestHardeningDefaults(t *testing.T) {
	c, err := loadWith(t, map[string]string{"DATA_DIR": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Hardening
	if h.MaxBodyBytes != 1<<20 || h.QueryMaxDepth != 15 || h.QueryMaxCost != 10000 || h.RateLimits.PerSecond != 20 ||
		h.RateLimits.SupportPerMinute != 30 || h.DBStatementTimeout != 10*time.Second || h.ShutdownGracePeriod != 20*time.Second {
		t.Fatalf("got %+v", h)
	}
	want := map[string]string{"connect_timeout": "5", "statement_timeout": "10000", "lock_timeout": "3000", "idle_in_transaction_session_timeout": "30000"}
	for k, v := range want {
		if got := h.DSNOptions()[k]; got != v {
			t.Errorf("DSN option %s: got %q, want %q", k, got, v)
		}
	}
}

func TestHardeningRefusals(t *testing.T) {
	tests := map[string]map[string]string{
		"wildcard origin":        {"CORS_ORIGINS": "*"},
		"wildcard subdomain":     {"CORS_ORIGINS": "https://*.example.com"},
		"origin with a path":     {"CORS_ORIGINS": "https://app.example.com/graphql"},
		"origin without scheme":  {"CORS_ORIGINS": "app.example.com"},
		"negative rate":          {"RATE_LIMIT_RPS": "-1"},
		"tiny body cap":          {"MAX_BODY_BYTES": "10"},
		"bad duration":           {"DB_LOCK_TIMEOUT": "soon"},
		"non-numeric cost limit": {"QUERY_MAX_COST": "lots"},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			env["DATA_DIR"] = t.TempDir()
			if _, err := loadWith(t, env); err == nil {
				t.Fatalf("got no error for %v", env)
			}
		})
	}
	c, err := loadWith(t, map[string]string{"DATA_DIR": t.TempDir(), "CORS_ORIGINS": "https://app.example.com, http://localhost:5173"})
	if err != nil || strings.Join(c.CORSOrigins, " ") != "https://app.example.com http://localhost:5173" {
		t.Fatalf("got %v %v", c.CORSOrigins, err)
	}
}
