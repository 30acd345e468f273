package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Hardening is the configuration of the production defences (README "Hardening"): body cap,
// document limits, rate limits, trusted documents, database timeouts and shutdown.
type Hardening struct {
	MaxBodyBytes        int64         // MAX_BODY_BYTES, default 1 MiB
	QueryMaxDepth       int           // QUERY_MAX_DEPTH, default 15
	QueryMaxCost        int           // QUERY_MAX_COST, default 10000
	TrustedDocuments    string        // TRUSTED_DOCUMENTS_FILE: only these documents are accepted
	AuthRequiredTyp     string        // AUTH_REQUIRED_TYP: the JWT header typ every token must carry
	RateLimits          RateLimits    // RATE_LIMIT_*
	DBConnectTimeout    time.Duration // DB_CONNECT_TIMEOUT, default 5s
	DBStatementTimeout  time.Duration // DB_STATEMENT_TIMEOUT, default 10s
	DBLockTimeout       time.Duration // DB_LOCK_TIMEOUT, default 3s
	DBIdleInTxTimeout   time.Duration // DB_IDLE_IN_TX_TIMEOUT, default 30s
	ShutdownDrainDelay  time.Duration // SHUTDOWN_DRAIN_DELAY: /readyz fails this long before the listener closes
	ShutdownGracePeriod time.Duration // SHUTDOWN_TIMEOUT: in-flight requests get this long to finish
}

// RateLimits are token buckets: per authenticated principal, per client IP for anonymous
// requests, and a tighter one per principal for the support operations. A zero PerSecond turns
// the general limits off; a zero SupportPerMinute turns the support limit off.
type RateLimits struct {
	PerSecond        float64 // RATE_LIMIT_RPS, default 20
	Burst            int     // RATE_LIMIT_BURST, default 60
	AnonPerSecond    float64 // RATE_LIMIT_ANON_RPS, default 5
	AnonBurst        int     // RATE_LIMIT_ANON_BURST, default 30
	SupportPerMinute float64 // RATE_LIMIT_SUPPORT_PER_MINUTE, default 30
	SupportBurst     int     // RATE_LIMIT_SUPPORT_BURST, default 10
}

// loadHardening reads the Hardening variables into c.
func loadHardening(get func(k, def string) string, c *Config) error {
	var errs []string
	num := func(key, def string, out *int) {
		v, err := strconv.Atoi(get(key, def))
		if err != nil || v < 0 {
			errs = append(errs, key+": want a non-negative integer")
		}
		*out = v
	}
	rate := func(key, def string, out *float64) {
		v, err := strconv.ParseFloat(get(key, def), 64)
		if err != nil || v < 0 {
			errs = append(errs, key+": want a non-negative number")
		}
		*out = v
	}
	dur := func(key, def string, out *time.Duration) {
		v, err := time.ParseDuration(get(key, def))
		if err != nil || v < 0 {
			errs = append(errs, key+": want a non-negative Go duration such as 5s")
		}
		*out = v
	}
	h := &c.Hardening
	var body int
	num("MAX_BODY_BYTES", "1048576", &body)
	h.MaxBodyBytes = int64(body)
	num("QUERY_MAX_DEPTH", "15", &h.QueryMaxDepth)
	num("QUERY_MAX_COST", "10000", &h.QueryMaxCost)
	h.TrustedDocuments = get("TRUSTED_DOCUMENTS_FILE", "")
	h.AuthRequiredTyp = get("AUTH_REQUIRED_TYP", "")
	rl := &h.RateLimits
	rate("RATE_LIMIT_RPS", "20", &rl.PerSecond)
	num("RATE_LIMIT_BURST", "60", &rl.Burst)
	rate("RATE_LIMIT_ANON_RPS", "5", &rl.AnonPerSecond)
	num("RATE_LIMIT_ANON_BURST", "30", &rl.AnonBurst)
	rate("RATE_LIMIT_SUPPORT_PER_MINUTE", "30", &rl.SupportPerMinute)
	num("RATE_LIMIT_SUPPORT_BURST", "10", &rl.SupportBurst)
	dur("DB_CONNECT_TIMEOUT", "5s", &h.DBConnectTimeout)
	dur("DB_STATEMENT_TIMEOUT", "10s", &h.DBStatementTimeout)
	dur("DB_LOCK_TIMEOUT", "3s", &h.DBLockTimeout)
	dur("DB_IDLE_IN_TX_TIMEOUT", "30s", &h.DBIdleInTxTimeout)
	dur("SHUTDOWN_DRAIN_DELAY", "0s", &h.ShutdownDrainDelay)
	dur("SHUTDOWN_TIMEOUT", "20s", &h.ShutdownGracePeriod)
	if h.MaxBodyBytes < 1024 {
		errs = append(errs, "MAX_BODY_BYTES: want at least 1024")
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, "CORS_ORIGINS: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// checkOrigin accepts an explicit origin, scheme://host[:port]: no wildcard, path or query.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if o == "*" || strings.Contains(o, "*") {
		return fmt.Errorf("%q: list origins explicitly (no wildcard)", o)
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q: want scheme://host[:port]", o)
	}
	return nil
}

// DSNOptions returns the lib/pq run-time parameters that put the database timeouts on every
// connection: connect_timeout (seconds), statement_timeout, lock_timeout and
// idle_in_transaction_session_timeout (milliseconds).
func (h Hardening) DSNOptions() map[string]string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	secs := int64(h.DBConnectTimeout / time.Second)
	if h.DBConnectTimeout > 0 && secs == 0 {
		secs = 1
	}
	return map[string]string{
		"connect_timeout":                     strconv.FormatInt(secs, 10),
		"statement_timeout":                   ms(h.DBStatementTimeout),
		"lock_timeout":                        ms(h.DBLockTimeout),
		"idle_in_transaction_session_timeout": ms(h.DBIdleInTxTimeout),
	}
}
