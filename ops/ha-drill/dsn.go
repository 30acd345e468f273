package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// pgNode is one PostgreSQL member's loopback address.
type pgNode struct {
	Host string
	Port int
}

// multiHostDSN is the connection string Recert gets: the key=value form, which lib/pq (1.11+)
// reads as a host list with a matching port list. target_session_attrs=read-write makes it
// try the members in order and keep the first that accepts writes, so a connection made after
// a failover finds the new primary. (A URL with "h:6001,h:6002" as its host part is dialled as
// "h:6001:5432"; the key=value form avoids that trap.) extra adds parameters, sorted by name.
func multiHostDSN(nodes []pgNode, dbname, user, password string, extra map[string]string) (string, error) {
	if len(nodes) == 0 {
		return "", fmt.Errorf("no PostgreSQL members")
	}
	hosts := make([]string, len(nodes))
	ports := make([]string, len(nodes))
	for i, n := range nodes {
		if n.Host == "" || strings.ContainsAny(n.Host, ", '\\") || n.Port <= 0 || n.Port > 65535 {
			return "", fmt.Errorf("member %d: bad address %q:%d", i+1, n.Host, n.Port)
		}
		hosts[i], ports[i] = n.Host, strconv.Itoa(n.Port)
	}
	params := map[string]string{
		"host": strings.Join(hosts, ","), "port": strings.Join(ports, ","),
		"dbname": dbname, "user": user, "password": password,
		"sslmode": "disable", "target_session_attrs": "read-write",
	}
	for k, v := range extra {
		params[k] = v
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+quoteValue(params[k]))
	}
	return strings.Join(parts, " "), nil
}

// quoteValue quotes a key=value connection string value when it needs it: empty, or holding
// a space, a quote or a backslash (libpq's rules).
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}
