package config

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/realclientip/realclientip-go"
)

// Hardening is the configuration of the production defences (README "Hardening"): body cap,
// document limits, rate limits, trusted documents, database timeouts and shutdown.
type Hardening struct {
	MaxBodyBytes        int64         // MAX_BODY_BYTES, default 1 MiB
	QueryMaxDepth       int           // QUERY_MAX_DEPTH, default 15
	QueryMaxCost        int           // QUERY_MAX_COST, default 10000
	TrustedDocuments    string        // TRUSTED_DOCUMENTS_FILE: only these documents are accepted
	APQMaxDocuments     int           // APQ_MAX_DOCUMENTS, default 5000: automatic persisted queries kept in the database
	AuthRequiredTyp     string        // AUTH_REQUIRED_TYP: the JWT header typ every token must carry
	RateLimits          RateLimits    // RATE_LIMIT_*
	TrustedProxies      []net.IPNet   // TRUSTED_PROXIES: peers whose forwarded client address is believed
	ClientIPHeader      string        // CLIENT_IP_HEADER: X-Forwarded-For (default) or Forwarded
	DBConnectTimeout    time.Duration // DB_CONNECT_TIMEOUT, default 5s
	DBStatementTimeout  time.Duration // DB_STATEMENT_TIMEOUT, default 10s
	DBLockTimeout       time.Duration // DB_LOCK_TIMEOUT, default 3s
	DBIdleInTxTimeout   time.Duration // DB_IDLE_IN_TX_TIMEOUT, default 30s
	DBConnMaxLifetime   time.Duration // DB_CONN_MAX_LIFETIME, default 5m: pooled connections are re-made (and target_session_attrs re-checked)
	DBConnMaxIdleTime   time.Duration // DB_CONN_MAX_IDLE_TIME, default 1m
	ShutdownDrainDelay  time.Duration // SHUTDOWN_DRAIN_DELAY: /readyz fails this long before the listener closes
	ShutdownGracePeriod time.Duration // SHUTDOWN_TIMEOUT: in-flight requests get this long to finish
}

// RateLimits are token buckets: per authenticated principal, per client address for anonymous
// requests, per client address for failed authentications, and, per principal, one bucket for
// the catalog operations, one for staff reads of other people's profiles and one for merges.
// A zero rate turns its limit off (PerSecond: the principal limit only).
type RateLimits struct {
	PerSecond             float64 // RATE_LIMIT_RPS, default 20
	Burst                 int     // RATE_LIMIT_BURST, default 60
	AnonPerSecond         float64 // RATE_LIMIT_ANON_RPS, default 5
	AnonBurst             int     // RATE_LIMIT_ANON_BURST, default 30
	SupportPerMinute      float64 // RATE_LIMIT_SUPPORT_PER_MINUTE, default 30 (catalog operations)
	SupportBurst          int     // RATE_LIMIT_SUPPORT_BURST, default 10
	SupportReadsPerMinute float64 // RATE_LIMIT_SUPPORT_READS_PER_MINUTE, default 120
	SupportReadsBurst     int     // RATE_LIMIT_SUPPORT_READS_BURST, default 60
	MergesPerMinute       float64 // RATE_LIMIT_MERGES_PER_MINUTE, default 120
	MergesBurst           int     // RATE_LIMIT_MERGES_BURST, default 50
	AuthFailuresPerMinute float64 // RATE_LIMIT_AUTH_FAILURES_PER_MINUTE, default 30
	AuthFailuresBurst     int     // RATE_LIMIT_AUTH_FAILURES_BURST, default 10
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
	num("APQ_MAX_DOCUMENTS", "5000", &h.APQMaxDocuments)
	h.AuthRequiredTyp = get("AUTH_REQUIRED_TYP", "")
	rl := &h.RateLimits
	rate("RATE_LIMIT_RPS", "20", &rl.PerSecond)
	num("RATE_LIMIT_BURST", "60", &rl.Burst)
	rate("RATE_LIMIT_ANON_RPS", "5", &rl.AnonPerSecond)
	num("RATE_LIMIT_ANON_BURST", "30", &rl.AnonBurst)
	rate("RATE_LIMIT_SUPPORT_PER_MINUTE", "30", &rl.SupportPerMinute)
	num("RATE_LIMIT_SUPPORT_BURST", "10", &rl.SupportBurst)
	rate("RATE_LIMIT_SUPPORT_READS_PER_MINUTE", "120", &rl.SupportReadsPerMinute)
	num("RATE_LIMIT_SUPPORT_READS_BURST", "60", &rl.SupportReadsBurst)
	rate("RATE_LIMIT_MERGES_PER_MINUTE", "120", &rl.MergesPerMinute)
	num("RATE_LIMIT_MERGES_BURST", "50", &rl.MergesBurst)
	rate("RATE_LIMIT_AUTH_FAILURES_PER_MINUTE", "30", &rl.AuthFailuresPerMinute)
	num("RATE_LIMIT_AUTH_FAILURES_BURST", "10", &rl.AuthFailuresBurst)
	if err := loadProxies(get, h); err != nil {
		errs = append(errs, err.Error())
	}
	dur("DB_CONNECT_TIMEOUT", "5s", &h.DBConnectTimeout)
	dur("DB_STATEMENT_TIMEOUT", "10s", &h.DBStatementTimeout)
	dur("DB_LOCK_TIMEOUT", "3s", &h.DBLockTimeout)
	dur("DB_IDLE_IN_TX_TIMEOUT", "30s", &h.DBIdleInTxTimeout)
	dur("DB_CONN_MAX_LIFETIME", "5m", &h.DBConnMaxLifetime)
	dur("DB_CONN_MAX_IDLE_TIME", "1m", &h.DBConnMaxIdleTime)
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

// loadProxies reads TRUSTED_PROXIES, a comma-separated list of CIDR ranges or single
// addresses, and CLIENT_IP_HEADER. A range covering every address (0.0.0.0/0, ::/0) is refused:
// it would let any client choose the address it is rate-limited under.
func loadProxies(get func(k, def string) string, h *Hardening) error {
	h.ClientIPHeader = http.CanonicalHeaderKey(get("CLIENT_IP_HEADER", "X-Forwarded-For"))
	if h.ClientIPHeader != "X-Forwarded-For" && h.ClientIPHeader != "Forwarded" {
		return fmt.Errorf("CLIENT_IP_HEADER: want X-Forwarded-For or Forwarded")
	}
	var list []string
	for _, p := range strings.Split(get("TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	nets, err := realclientip.AddressesAndRangesToIPNets(list...)
	if err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: want comma-separated CIDR ranges or addresses such as 10.0.0.0/8 (%v)", err)
	}
	for _, n := range nets {
		if ones, _ := n.Mask.Size(); ones == 0 {
			return fmt.Errorf("TRUSTED_PROXIES: %s trusts every address; list the proxies' ranges", n.String())
		}
	}
	h.TrustedProxies = nets
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
