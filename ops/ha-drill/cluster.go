package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// haSettings are the Patroni timeouts the drill sets (Patroni's defaults: ttl 30, loop_wait
// 10, retry_timeout 10). Patroni requires loop_wait + 2*retry_timeout <= ttl.
type haSettings struct {
	TTL, LoopWait, RetryTimeout int // seconds
}

func (h haSettings) String() string {
	return fmt.Sprintf("Patroni ttl=%ds loop_wait=%ds retry_timeout=%ds, synchronous_mode=on synchronous_mode_strict=on", h.TTL, h.LoopWait, h.RetryTimeout)
}

func (h haSettings) check() error {
	if h.TTL < 5 || h.LoopWait < 1 || h.RetryTimeout < 1 || h.LoopWait+2*h.RetryTimeout > h.TTL {
		return fmt.Errorf("HA timeouts %s: need loop_wait + 2*retry_timeout <= ttl, ttl >= 5", h)
	}
	return nil
}

// member is one Patroni-managed PostgreSQL node.
type member struct {
	Name    string
	PGPort  int
	APIPort int
	Dir     string
	Patroni *proc
}

func (m *member) dataDir() string { return filepath.Join(m.Dir, "data") }
func (m *member) api() string     { return "http://127.0.0.1:" + strconv.Itoa(m.APIPort) }

// cluster is etcd plus three Patroni nodes on loopback, all under dir.
type cluster struct {
	dir      string
	who      runAs
	ps       *procs
	ha       haSettings
	etcd     *proc
	etcdPort int
	members  []*member
	suPass   string
	replPass string
	pgBin    string
	patroni  string
	etcdBin  string
	http     *http.Client
}

const patroniYAML = `scope: recert-drill
namespace: /recert-drill/
name: {{name}}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{{api}}
  connect_address: 127.0.0.1:{{api}}
etcd3:
  hosts: 127.0.0.1:{{etcd}}
bootstrap:
  dcs:
    ttl: {{ttl}}
    loop_wait: {{loop}}
    retry_timeout: {{retry}}
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        max_connections: 100
        shared_buffers: 32MB
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  - data-checksums
postgresql:
  listen: 127.0.0.1:{{pg}}
  connect_address: 127.0.0.1:{{pg}}
  data_dir: {{data}}
  bin_dir: {{bin}}
  pgpass: {{dir}}/pgpass
  authentication:
    superuser:
      username: postgres
      password: '{{su}}'
    replication:
      username: replicator
      password: '{{repl}}'
  parameters:
    unix_socket_directories: '{{dir}}'
  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.1/32 scram-sha-256
  - host all all 127.0.0.1/32 scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`

func (c *cluster) env(m *member) []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + m.Dir, "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
}

// mkdir makes a directory owned by the cluster's user.
func (c *cluster) mkdir(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	if c.who.cred != nil {
		return os.Chown(path, c.who.uid, c.who.gid)
	}
	return nil
}

// up starts etcd and the three nodes and waits for a healthy cluster.
func (c *cluster) up(ctx context.Context) error {
	ports, err := freePorts(8)
	if err != nil {
		return err
	}
	c.etcdPort = ports[0]
	etcdDir := filepath.Join(c.dir, "etcd")
	if err := c.mkdir(etcdDir); err != nil {
		return err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	c.etcd, err = c.ps.start("etcd", filepath.Join(c.dir, "etcd.log"), c.who,
		[]string{"PATH=/usr/bin:/bin", "HOME=" + etcdDir},
		c.etcdBin, "--name", "drill", "--data-dir", filepath.Join(etcdDir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "drill="+peer, "--initial-cluster-state", "new",
		"--initial-cluster-token", "recert-drill")
	if err != nil {
		return err
	}
	if err := waitFor(ctx, "etcd health", 60*time.Second, func() (bool, string) {
		if !c.etcd.running() {
			return false, "etcd exited: " + tail(c.etcd.logPath, 800)
		}
		b, code, err := c.get(client + "/health")
		if err != nil {
			return false, err.Error()
		}
		return code == 200 && bytes.Contains(b, []byte(`"true"`)), string(b)
	}); err != nil {
		return err
	}
	log.Printf("etcd ready on %s (pid %d)", client, c.etcd.pid())
	for i := 0; i < 3; i++ {
		m := &member{Name: "node" + strconv.Itoa(i+1), PGPort: ports[2+2*i], APIPort: ports[3+2*i],
			Dir: filepath.Join(c.dir, "node"+strconv.Itoa(i+1))}
		if err := c.mkdir(m.Dir); err != nil {
			return err
		}
		r := strings.NewReplacer("{{name}}", m.Name, "{{api}}", strconv.Itoa(m.APIPort), "{{etcd}}", strconv.Itoa(c.etcdPort),
			"{{ttl}}", strconv.Itoa(c.ha.TTL), "{{loop}}", strconv.Itoa(c.ha.LoopWait), "{{retry}}", strconv.Itoa(c.ha.RetryTimeout),
			"{{pg}}", strconv.Itoa(m.PGPort), "{{data}}", m.dataDir(), "{{bin}}", c.pgBin, "{{dir}}", m.Dir,
			"{{su}}", c.suPass, "{{repl}}", c.replPass)
		cfg := filepath.Join(m.Dir, "patroni.yml")
		if err := os.WriteFile(cfg, []byte(r.Replace(patroniYAML)), 0o600); err != nil {
			return err
		}
		if c.who.cred != nil {
			if err := os.Chown(cfg, c.who.uid, c.who.gid); err != nil {
				return err
			}
		}
		c.members = append(c.members, m)
		if err := c.startPatroni(m); err != nil {
			return err
		}
		if i == 0 {
			// The first node bootstraps (initdb) before the others clone it.
			if err := waitFor(ctx, m.Name+" to lead", 3*time.Minute, func() (bool, string) {
				st, err := c.status()
				if err != nil {
					return false, err.Error()
				}
				return st.leader() == m.Name, st.String()
			}); err != nil {
				return fmt.Errorf("%w\n%s", err, tail(m.Patroni.logPath, 2000))
			}
		}
	}
	st, err := c.waitHealthy(ctx, 5*time.Minute)
	if err != nil {
		return err
	}
	log.Printf("cluster healthy: %s", st)
	return nil
}

func (c *cluster) startPatroni(m *member) error {
	p, err := c.ps.start("patroni "+m.Name, filepath.Join(m.Dir, "patroni.log"), c.who, c.env(m),
		c.patroni, filepath.Join(m.Dir, "patroni.yml"))
	if err != nil {
		return err
	}
	m.Patroni = p
	log.Printf("patroni %s started (pid %d, PostgreSQL 127.0.0.1:%d, REST 127.0.0.1:%d)", m.Name, p.pid(), m.PGPort, m.APIPort)
	return nil
}

// clusterStatus is Patroni's GET /cluster.
type clusterStatus struct {
	Members []struct {
		Name  string          `json:"name"`
		Role  string          `json:"role"`
		State string          `json:"state"`
		Lag   json.RawMessage `json:"lag"`
		TL    int             `json:"timeline"`
	} `json:"members"`
}

func (s clusterStatus) leader() string {
	for _, m := range s.Members {
		if m.Role == "leader" && m.State == "running" {
			return m.Name
		}
	}
	return ""
}

func (s clusterStatus) syncStandby() string {
	for _, m := range s.Members {
		if m.Role == "sync_standby" && (m.State == "running" || m.State == "streaming") {
			return m.Name
		}
	}
	return ""
}

// healthy: a running leader, a synchronous standby, three members all running or streaming
// with a known lag under 1 MB.
func (s clusterStatus) healthy() bool {
	if len(s.Members) != 3 || s.leader() == "" || s.syncStandby() == "" {
		return false
	}
	for _, m := range s.Members {
		if m.State != "running" && m.State != "streaming" {
			return false
		}
		if m.Role != "leader" {
			lag, err := strconv.ParseInt(string(m.Lag), 10, 64)
			if err != nil || lag > 1<<20 {
				return false
			}
		}
	}
	return true
}

func (s clusterStatus) String() string {
	parts := make([]string, 0, len(s.Members))
	for _, m := range s.Members {
		parts = append(parts, fmt.Sprintf("%s=%s/%s(lag %s, tl %d)", m.Name, m.Role, m.State, string(m.Lag), m.TL))
	}
	return strings.Join(parts, " ")
}

// status asks each node's REST API in turn (a killed node does not answer).
func (c *cluster) status() (clusterStatus, error) {
	var last error
	for _, m := range c.members {
		if m.Patroni == nil || !m.Patroni.running() {
			continue
		}
		b, code, err := c.get(m.api() + "/cluster")
		if err != nil || code != 200 {
			last = fmt.Errorf("%s /cluster: %v %d", m.Name, err, code)
			continue
		}
		var st clusterStatus
		if err := json.Unmarshal(b, &st); err != nil {
			last = err
			continue
		}
		return st, nil
	}
	if last == nil {
		last = fmt.Errorf("no Patroni node runs")
	}
	return clusterStatus{}, last
}

func (c *cluster) waitHealthy(ctx context.Context, limit time.Duration) (clusterStatus, error) {
	var st clusterStatus
	err := waitFor(ctx, "a healthy cluster (leader, sync standby, 3 members)", limit, func() (bool, string) {
		s, err := c.status()
		if err != nil {
			return false, err.Error()
		}
		st = s
		return s.healthy(), s.String()
	})
	return st, err
}

func (c *cluster) member(name string) *member {
	for _, m := range c.members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// switchover asks the leader's Patroni for a planned switchover to the synchronous standby
// (in synchronous mode Patroni only promotes that one).
func (c *cluster) switchover(ctx context.Context, leader, candidate string) error {
	m := c.member(leader)
	body, _ := json.Marshal(map[string]string{"leader": leader, "candidate": candidate})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.api()+"/switchover", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 90 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("switchover %s -> %s: %w", leader, candidate, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 {
		return fmt.Errorf("switchover %s -> %s: HTTP %d: %s", leader, candidate, resp.StatusCode, b)
	}
	return nil
}

// crash kills a node as a power cut would: SIGKILL to its Patroni, its postmaster and every
// backend of that postmaster (all started by this drill), at once.
func (c *cluster) crash(name string) error {
	m := c.member(name)
	pm, err := postmasterPID(m.dataDir())
	if err != nil {
		return fmt.Errorf("%s postmaster.pid: %w", name, err)
	}
	victims := append([]int{m.Patroni.pid(), pm}, childrenOf(pm)...)
	for _, pid := range victims {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-m.Patroni.exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("patroni %s survived SIGKILL", name)
	}
	// The backends notice the postmaster's death and exit; wait so the restart finds no
	// shared memory still attached.
	return waitFor(context.Background(), name+"'s PostgreSQL processes to exit", 30*time.Second, func() (bool, string) {
		alive := 0
		for _, pid := range victims[1:] {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				alive++
			}
		}
		return alive == 0, strconv.Itoa(alive) + " still alive"
	})
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// down stops the nodes (Patroni stops its PostgreSQL on SIGTERM), then etcd; any
// postmaster left behind by a node is stopped by its pid file.
func (c *cluster) down() {
	for _, m := range c.members {
		if m.Patroni != nil {
			m.Patroni.stop(60 * time.Second)
		}
	}
	for _, m := range c.members {
		if pm, err := postmasterPID(m.dataDir()); err == nil && syscall.Kill(pm, 0) == nil && isPostgres(pm) {
			log.Printf("%s: PostgreSQL (pid %d) outlived its Patroni: SIGQUIT", m.Name, pm)
			_ = syscall.Kill(pm, syscall.SIGQUIT)
		}
	}
	if c.etcd != nil {
		c.etcd.stop(20 * time.Second)
	}
}

func isPostgres(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "postgres")
}

func (c *cluster) get(url string) ([]byte, int, error) {
	resp, err := c.http.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return b, resp.StatusCode, err
}

// waitFor polls cond every 250 ms until it holds, the limit passes or ctx ends; the error
// names what was awaited and the last state seen.
func waitFor(ctx context.Context, what string, limit time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(limit)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		last = state
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s; last state: %s", limit, what, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
