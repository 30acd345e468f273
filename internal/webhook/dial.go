package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/recert/recert/internal/apperr"
)

// MaxURLLength caps an endpoint URL.
const MaxURLLength = 2048

// CheckURL validates an endpoint URL (docs/api.md "Webhooks"): https with a host and no user
// information; plain http only outside production and only to a loopback host (localhost,
// 127.0.0.0/8, ::1). In production a literal address must be public; names are checked again
// after DNS resolution when the sender dials (Client), so rebinding cannot reach inside.
// Codes: BAD_USER_INPUT (field url).
func CheckURL(raw string, production bool) (string, error) {
	bad := func(why string) error { return apperr.Invalid("url %s", why).With("field", "url") }
	if raw == "" || len(raw) > MaxURLLength {
		return "", bad(fmt.Sprintf("must be 1 to %d characters", MaxURLLength))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", bad("must be an absolute URL")
	}
	if u.User != nil {
		return "", bad("must not carry user information")
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if production || !loopbackHost(host) {
			return "", bad("must use https (plain http only to localhost, outside production)")
		}
	default:
		return "", bad("must use https")
	}
	if production {
		if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
			return "", bad("must not name a private, loopback or link-local address")
		}
		if loopbackHost(host) {
			return "", bad("must not name a private, loopback or link-local address")
		}
	}
	u.Fragment = ""
	return u.String(), nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// blocked are the ranges no production delivery may reach beyond what netip classifies:
// this network, shared address space (carrier NAT), IETF protocol assignments, benchmarking,
// reserved, and NAT64 (which maps onto IPv4 inside).
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Public reports whether ip may be dialed in production: not loopback, private, link-local,
// multicast, unspecified or one of the special ranges above (IPv4-mapped IPv6 addresses are
// judged as IPv4).
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// ErrForbiddenAddress is the dial error for an address production must not reach.
var ErrForbiddenAddress = errors.New("webhook: address not allowed (private, loopback or link-local)")

// dialControl refuses, at connect time (after DNS resolution, on the very address dialed), the
// addresses Public refuses.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %q: %w", address, err)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// Timeouts of one delivery.
const (
	dialTimeout    = 5 * time.Second
	requestTimeout = 15 * time.Second
	// MaxResponseBody is how much of a response body is read (and dropped).
	MaxResponseBody = 4 << 10
)

// NewClient returns the HTTP client deliveries use: no proxy, no redirects followed (a 3xx is
// a failed attempt), short timeouts, and in production a dialer that refuses non-public
// addresses after DNS resolution.
func NewClient(production bool) *http.Client {
	d := &net.Dialer{Timeout: dialTimeout}
	if production {
		d.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: requestTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// post sends one signed delivery and returns the response status (0 when none came).
func post(ctx context.Context, c *http.Client, target string, h http.Header, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("endpoint answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
