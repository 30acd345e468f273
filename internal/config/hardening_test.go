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

func TestRateLimitDefaultsAndTrustedProxies(t *testing.T) {
	c, err := loadWith(t, map[string]string{"DATA_DIR": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rl := c.Hardening.RateLimits
	if rl.SupportReadsPerMinute != 120 || rl.SupportReadsBurst != 60 || rl.MergesPerMinute != 120 || rl.MergesBurst != 50 ||
		rl.AuthFailuresPerMinute != 30 || rl.AuthFailuresBurst != 10 || rl.SupportPerMinute != 30 || rl.SupportBurst != 10 {
		t.Fatalf("got %+v", rl)
	}
	if len(c.Hardening.TrustedProxies) != 0 || c.Hardening.ClientIPHeader != "X-Forwarded-For" {
		t.Fatalf("got proxies %v header %q, want none and X-Forwarded-For", c.Hardening.TrustedProxies, c.Hardening.ClientIPHeader)
	}
	c, err = loadWith(t, map[string]string{"DATA_DIR": t.TempDir(), "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.10,2001:db8::/32", "CLIENT_IP_HEADER": "forwarded"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range c.Hardening.TrustedProxies {
		got = append(got, n.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.10/32 2001:db8::/32" || c.Hardening.ClientIPHeader != "Forwarded" {
		t.Fatalf("got %v %q", got, c.Hardening.ClientIPHeader)
	}
	for _, bad := range []map[string]string{
		{"TRUSTED_PROXIES": "10.0.0.0/33"}, {"TRUSTED_PROXIES": "proxy.internal"}, {"TRUSTED_PROXIES": "0.0.0.0/0"},
		{"TRUSTED_PROXIES": "::/0"}, {"CLIENT_IP_HEADER": "X-Real-IP"}, {"RATE_LIMIT_MERGES_BURST": "-1"},
	} {
		bad["DATA_DIR"] = t.TempDir()
		if _, err := loadWith(t, bad); err == nil {
			t.Errorf("%v: got no error, want one", bad)
		}
	}
}
