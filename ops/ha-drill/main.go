// Command ha-drill is Recert's failover drill (issue 15): on one Debian machine it brings up a
// three-node PostgreSQL 15 cluster with synchronous replication under Patroni and etcd on
// loopback, starts two Recert instances behind a multi-host DATABASE_URL, drives writers and
// readers, performs planned switchovers and kill -9 of the primary, and reports the write
// outage per event and every acknowledged write the database lost. See README.md.
//
//	sudo go run ./ops/ha-drill            # from the repository; needs root for apt and to run PostgreSQL as postgres
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/auth"
)

type options struct {
	switchovers, kills int
	ha                 haSettings
	settle             time.Duration
	profiles           int
	merges             int
	writers            int
	keep               bool
	packages           bool
	timeout            time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.switchovers, "switchovers", 5, "planned switchovers")
	flag.IntVar(&o.kills, "kills", 2, "kill -9 of the primary (Patroni, postmaster and backends of that node)")
	flag.IntVar(&o.ha.TTL, "ttl", 15, "Patroni ttl (leader lock lifetime), seconds")
	flag.IntVar(&o.ha.LoopWait, "loop-wait", 3, "Patroni loop_wait, seconds")
	flag.IntVar(&o.ha.RetryTimeout, "retry-timeout", 5, "Patroni retry_timeout, seconds")
	flag.DurationVar(&o.settle, "settle", 15*time.Second, "load between events once the cluster is healthy again")
	flag.IntVar(&o.profiles, "profiles", 3000, "profiles seed-bench creates")
	flag.IntVar(&o.merges, "merges", 150, "merges to perform (each consumes two profiles)")
	flag.IntVar(&o.writers, "writers", 4, "concurrent recordExamResult writers")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, data) after the teardown")
	flag.BoolVar(&o.packages, "install", true, "apt-get install the packages that are missing (as root)")
	flag.DurationVar(&o.timeout, "timeout", 45*time.Minute, "abort the whole drill after this long")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("ha-drill: ")
	if err := o.ha.check(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		log.Printf("FAILED: %v", err)
		os.Exit(1)
	}
}

// packages the drill needs, and the Debian packages that provide them.
var needed = []struct{ path, pkg string }{
	{"/usr/lib/postgresql/15/bin/postgres", "postgresql-15"},
	{"/usr/bin/patroni", "patroni"},
	{"/usr/bin/etcd", "etcd-server"},
	{"/usr/lib/python3/dist-packages/etcd/__init__.py", "python3-etcd"},
}

func ensurePackages(ctx context.Context, install bool) error {
	var missing []string
	for _, n := range needed {
		if _, err := os.Stat(n.path); err != nil {
			missing = append(missing, n.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !install || os.Geteuid() != 0 {
		return fmt.Errorf("missing %s: run as root, or apt-get install -y %s", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	log.Printf("apt-get install -y %s", strings.Join(missing, " "))
	apt := func(args ...string) error {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail2(out, 1500))
		}
		return nil
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if err := apt(args...); err != nil {
		if err := apt("update"); err != nil {
			return err
		}
		return apt(args...)
	}
	return nil
}

func tail2(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// clusterUser is postgres when the drill runs as root (PostgreSQL refuses to run as root).
func clusterUser() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("running as root needs the postgres user (package postgresql-common): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}, nil
}

func run(ctx context.Context, o options) (err error) {
	began := time.Now()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := ensurePackages(ctx, o.packages); err != nil {
		return err
	}
	who, err := clusterUser()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "recert-ha-drill-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	log.Printf("working directory %s", tmp)
	ps := &procs{}
	c := &cluster{dir: tmp, who: who, ps: ps, ha: o.ha, suPass: randomHex(12), replPass: randomHex(12),
		pgBin: "/usr/lib/postgresql/15/bin", patroni: "/usr/bin/patroni", etcdBin: "/usr/bin/etcd",
		http: &http.Client{Timeout: 5 * time.Second}}
	var instances []*instance
	var sk *sink
	var hs *hookSink
	defer func() {
		log.Printf("teardown")
		for _, in := range instances {
			in.p.stop(30 * time.Second)
		}
		if sk != nil {
			sk.close()
		}
		if hs != nil {
			hs.close()
		}
		c.down()
		for _, p := range ps.list {
			if p.running() {
				log.Printf("%s (pid %d) still runs after the teardown", p.name, p.pid())
			}
		}
		if o.keep || err != nil {
			log.Printf("kept %s (logs: etcd.log, node*/patroni.log, node*/data/log, recert*.log)", tmp)
		} else {
			_ = os.RemoveAll(tmp)
		}
	}()

	// The cluster.
	if err := c.up(ctx); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	nodes := make([]pgNode, len(c.members))
	for i, m := range c.members {
		nodes[i] = pgNode{"127.0.0.1", m.PGPort}
	}
	timeouts := map[string]string{"connect_timeout": "2"}
	suDSN, err := multiHostDSN(nodes, "postgres", "postgres", c.suPass, timeouts)
	if err != nil {
		return err
	}
	appPass := randomHex(12)
	if err := createDatabase(ctx, suDSN, appPass); err != nil {
		return err
	}
	dsn, err := multiHostDSN(nodes, "recert", "recert", appPass, timeouts)
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(4)
	db.SetConnMaxLifetime(5 * time.Second) // re-check target_session_attrs after a failover

	// Recert: build once, migrate, seed, two instances.
	bin := filepath.Join(tmp, "recert")
	log.Printf("go build -o %s", bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	if sk, err = startSink(); err != nil {
		return err
	}
	if hs, err = startHookSink(); err != nil {
		return err
	}
	secret := randomHex(32)
	toolEnv := recertEnv(dsn, secret, sk.url(), filepath.Join(tmp, "recert-tools"), "REMINDER_INTERVAL=0")
	if err := os.MkdirAll(filepath.Join(tmp, "recert-tools"), 0o700); err != nil {
		return err
	}
	log.Printf("recert migrate")
	if err := runTool(ctx, 10*time.Minute, filepath.Join(tmp, "recert-tools.log"), toolEnv, bin, "migrate"); err != nil {
		return err
	}
	log.Printf("recert seed-bench --profiles %d", o.profiles)
	tokensFile := filepath.Join(tmp, "tokens.tsv")
	if err := runTool(ctx, 15*time.Minute, filepath.Join(tmp, "recert-tools.log"), toolEnv, bin,
		"seed-bench", "--profiles", strconv.Itoa(o.profiles), "--out", tokensFile, "--ttl", "4h"); err != nil {
		return err
	}
	addrs, err := freePorts(2)
	if err != nil {
		return err
	}
	for i, port := range addrs {
		name := "recert" + strconv.Itoa(i+1)
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		in, err := startInstance(ctx, ps, name, bin, "127.0.0.1:"+strconv.Itoa(port), filepath.Join(tmp, name+".log"),
			recertEnv(dsn, secret, sk.url(), dir))
		if err != nil {
			return err
		}
		instances = append(instances, in)
	}

	w, err := prepareWorkload(ctx, db, tokensFile, []byte(secret), instances, o)
	if err != nil {
		return err
	}
	hook, err := registerWebhook(ctx, w.base(), []byte(secret), w.run, hs.url())
	if err != nil {
		return err
	}
	log.Printf("webhook endpoint %s posts %s to %s", hook, strings.Join(webhookEvents, ", "), hs.url())
	var sentBefore int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE sent_at IS NOT NULL`).Scan(&sentBefore); err != nil {
		return err
	}
	sentMailsBefore, _, _ := sk.counts()

	// Load.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	goLoad := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	for i := 0; i < o.writers; i++ {
		goLoad(func() { w.examWriter(loadCtx, i, 20*time.Millisecond) })
	}
	goLoad(func() { w.merger(loadCtx, 1500*time.Millisecond) })
	goLoad(func() { w.renewer(loadCtx, 300*time.Millisecond) })
	for i := 0; i < 2; i++ {
		goLoad(func() { w.reader(loadCtx, i, 50*time.Millisecond) })
	}
	watches := make([]*readyWatch, len(instances))
	for i, in := range instances {
		watches[i] = &readyWatch{in: in, done: make(chan struct{})}
		go watches[i].run(loadCtx)
	}
	log.Printf("load running (%d exam writers, 1 merger, 1 renewer, 2 readers); settling %s", o.writers, o.settle)
	sleep(ctx, o.settle)

	// Events.
	plan := eventPlan(o.switchovers, o.kills)
	var events []event
	for i, kind := range plan {
		ev, err := c.perform(ctx, kind, i, len(plan), plan)
		if err != nil {
			return fmt.Errorf("event %d (%s): %w", i+1, kind, err)
		}
		// Writes must be acknowledged again before the next event.
		if err := waitFor(ctx, "an acknowledged write after "+ev.Name, 3*time.Minute, func() (bool, string) {
			return w.lastAck().After(ev.Healthy), "last ack " + w.lastAck().Format(time.TimeOnly)
		}); err != nil {
			return err
		}
		events = append(events, ev)
		log.Printf("%s done: %s -> %s, cluster healthy after %.1f s", ev.Name, ev.From, ev.To, ev.HealthyWait.Seconds())
		sleep(ctx, o.settle)
	}
	end := time.Now()
	stopLoad()
	wg.Wait()
	for _, rw := range watches {
		<-rw.done
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// Reminders still due are sent by the instances' 2 s passes: wait for the outbox to drain.
	log.Printf("load stopped; waiting for the reminder outbox to drain")
	drainErr := waitFor(ctx, "the reminder outbox to drain", 5*time.Minute, func() (bool, string) {
		var due int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE sent_at IS NULL AND cancelled_at IS NULL AND next_attempt_at <= now()`).Scan(&due); err != nil {
			return false, err.Error()
		}
		return due == 0, strconv.Itoa(due) + " due"
	})
	if drainErr != nil {
		log.Printf("warning: %v", drainErr)
	}
	log.Printf("waiting for the webhook outbox to drain")
	hookDrainErr := waitWebhookDrain(ctx, db, hook)
	if hookDrainErr != nil {
		log.Printf("warning: %v", hookDrainErr)
	}

	// Findings.
	f, err := verify(ctx, db, w, sk, sentBefore, sentMailsBefore)
	if err != nil {
		return err
	}
	if err := verifyWebhooks(ctx, db, hook, hs, &f); err != nil {
		return err
	}
	f.ReadyRecovered = map[string]time.Duration{}
	probe := &http.Client{Timeout: 2 * time.Second}
	readyFrom := time.Now()
	for _, in := range instances {
		if !in.p.running() {
			f.Restarted = append(f.Restarted, in.name)
			continue
		}
		err := waitFor(ctx, in.name+" /readyz", 60*time.Second, func() (bool, string) { return in.ready(probe) })
		if err != nil {
			f.ReadyFailed = append(f.ReadyFailed, in.name)
		} else {
			f.ReadyRecovered[in.name] = time.Since(readyFrom)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	settings := fmt.Sprintf("%d switchovers, %d kill -9 of the primary; %s; Recert DB_CONNECT_TIMEOUT=2s, connect_timeout=2, REMINDER_INTERVAL=2s, WEBHOOK_INTERVAL=2s; %s",
		o.switchovers, o.kills, o.ha, fmt.Sprintf("run took %s", time.Since(began).Round(time.Second)))
	notes := []string{
		"refused writes (final error codes, not retried): " + w.refusalsLocked(),
		fmt.Sprintf("dashboard reads: %d ok, %d failed", w.reads[0], w.reads[1]),
	}
	for _, rw := range watches {
		notes = append(notes, fmt.Sprintf("%s /readyz during the drill: %d probes 200, %d not", rw.in.name, rw.ok, rw.failed))
	}
	if drainErr != nil {
		notes = append(notes, fmt.Sprintf("reminder outbox did not drain: %v", drainErr))
	}
	if hookDrainErr != nil {
		notes = append(notes, fmt.Sprintf("webhook outbox did not drain: %v", hookDrainErr))
	}
	writeReport(os.Stdout, events, w.attempts, end, w.led, f, settings, notes)
	if f.failed() {
		return errors.New("the drill found lost or duplicated writes, reminders or webhooks sent twice or never received, or an instance that did not recover")
	}
	return nil
}

// eventPlan spreads the kills among the switchovers: S S K S S K S for 5 and 2.
func eventPlan(switchovers, kills int) []string {
	total := switchovers + kills
	out := make([]string, 0, total)
	k := 0
	for i := 0; i < total; i++ {
		// The (k+1)-th kill is event ceil((k+1)*(total+1)/(kills+1)), counted from 1.
		if k < kills && i+1 == ((k+1)*(total+1)+kills)/(kills+1) {
			out = append(out, "kill")
			k++
		} else {
			out = append(out, "switchover")
		}
	}
	return out
}

// perform runs one event and waits for the cluster to be healthy again.
func (c *cluster) perform(ctx context.Context, kind string, i, _ int, plan []string) (event, error) {
	st, err := c.waitHealthy(ctx, 5*time.Minute)
	if err != nil {
		return event{}, err
	}
	n := 0
	for _, k := range plan[:i+1] {
		if k == kind {
			n++
		}
	}
	name := kind + " " + strconv.Itoa(n)
	if kind == "kill" {
		name = "kill -9 " + strconv.Itoa(n)
	}
	ev := event{Name: name, From: st.leader()}
	sync := st.syncStandby()
	log.Printf("%s: leader %s, synchronous standby %s", name, ev.From, sync)
	ev.Start = time.Now()
	if kind == "switchover" {
		if err := c.switchover(ctx, ev.From, sync); err != nil {
			return ev, err
		}
	} else if err := c.crash(ev.From); err != nil {
		return ev, err
	}
	if err := waitFor(ctx, "a new leader", 3*time.Minute, func() (bool, string) {
		s, err := c.status()
		if err != nil {
			return false, err.Error()
		}
		ev.To = s.leader()
		return ev.To != "" && ev.To != ev.From, s.String()
	}); err != nil {
		return ev, err
	}
	if kind == "kill" {
		if err := c.startPatroni(c.member(ev.From)); err != nil {
			return ev, err
		}
	}
	if _, err := c.waitHealthy(ctx, 5*time.Minute); err != nil {
		return ev, err
	}
	ev.Healthy = time.Now()
	ev.HealthyWait = ev.Healthy.Sub(ev.Start)
	return ev, nil
}

func createDatabase(ctx context.Context, suDSN, appPass string) error {
	db, err := sql.Open("postgres", suDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, q := range []string{
		`CREATE ROLE recert LOGIN PASSWORD ` + pq.QuoteLiteral(appPass),
		`CREATE DATABASE recert OWNER recert`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(q)[0]+" "+strings.Fields(q)[1], err)
		}
	}
	return nil
}

// prepareWorkload reads what the writers need from the seeded database.
func prepareWorkload(ctx context.Context, db *sql.DB, tokensFile string, secret []byte, instances []*instance, o options) (*workload, error) {
	lines, err := readTokens(tokensFile)
	if err != nil {
		return nil, err
	}
	if len(lines) < 2*o.merges+100 {
		return nil, fmt.Errorf("%d seeded profiles: need at least %d (-profiles)", len(lines), 2*o.merges+100)
	}
	w := &workload{run: strconv.FormatInt(time.Now().Unix(), 36), client: &http.Client{Timeout: 30 * time.Second},
		ownerTokens: map[string]string{}, final: map[string]int{}, correct: map[uuid.UUID]map[uuid.UUID]bool{}}
	for _, in := range instances {
		w.instances = append(w.instances, in.base())
	}
	for _, l := range lines {
		w.ownerTokens[l.MCID] = l.Token
	}
	reserved := lines[len(lines)-2*o.merges:]
	for _, l := range lines[:len(lines)-2*o.merges] {
		w.writerMCIDs = append(w.writerMCIDs, l.MCID)
	}
	mint := func(sub, role string) (string, error) {
		return auth.MintDev(secret, "recert-dev", "recert", time.Now(), auth.DevToken{Subject: sub, Roles: []string{role}, Name: sub, TTL: 4 * time.Hour})
	}
	if w.deliveryTok, err = mint("drill-delivery", auth.RoleExamDelivery); err != nil {
		return nil, err
	}
	if w.supportTok, err = mint("drill-support", auth.RoleSupport); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `
SELECT min(rp.exam_code) FROM requirement_paths rp
JOIN certifications c ON c.id = rp.certification_id
JOIN exams x ON x.code = rp.exam_code
WHERE c.level <> 'FUNDAMENTALS' AND c.retired_on IS NULL AND x.retired_on IS NULL
  AND c.released_on <= current_date - 550
  AND EXISTS (SELECT 1 FROM renewal_assessments a WHERE a.certification_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM certification_prerequisites p WHERE p.certification_id = c.id)
GROUP BY rp.certification_id, rp.path_no HAVING count(*) = 1
ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("exams: %w", err)
	}
	if w.exams, err = scanStrings(rows); err != nil {
		return nil, err
	}
	if len(w.exams) == 0 {
		return nil, errors.New("the catalog has no single-exam renewable certification to record exams for")
	}
	ids := make([]int64, len(reserved))
	for i, l := range reserved {
		ids[i], _ = strconv.ParseInt(l.MCID, 10, 64)
	}
	byMCID := map[int64]uuid.UUID{}
	rows, err = db.QueryContext(ctx, `SELECT mcid, id FROM certification_profiles WHERE mcid = ANY($1)`, pq.Array(ids))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var m int64
		var id uuid.UUID
		if err := rows.Scan(&m, &id); err != nil {
			rows.Close()
			return nil, err
		}
		byMCID[m] = id
	}
	rows.Close()
	for i := 0; i+1 < len(ids); i += 2 {
		w.mergePairs = append(w.mergePairs, [2]uuid.UUID{byMCID[ids[i]], byMCID[ids[i+1]]})
	}
	writerIDs := make([]int64, len(w.writerMCIDs))
	for i, m := range w.writerMCIDs {
		writerIDs[i], _ = strconv.ParseInt(m, 10, 64)
	}
	rows, err = db.QueryContext(ctx, `
SELECT e.id, p.mcid FROM earned_certifications e
JOIN certification_profiles p ON p.id = e.profile_id AND p.status = 'ACTIVE'
JOIN certifications c ON c.id = e.certification_id
WHERE p.mcid = ANY($1) AND e.superseded_at IS NULL
  AND e.expires_on > current_date + 2 AND (e.expires_on - interval '6 months')::date <= current_date
  AND (c.released_on + interval '6 months')::date <= current_date
  AND EXISTS (SELECT 1 FROM profile_links l WHERE l.certification_profile_id = p.id)
  AND EXISTS (SELECT 1 FROM renewal_assessments ra WHERE ra.certification_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM assessment_attempts t WHERE t.earned_certification_id = e.id)
ORDER BY md5(e.id::text) LIMIT 3000`, pq.Array(writerIDs))
	if err != nil {
		return nil, fmt.Errorf("renewal candidates: %w", err)
	}
	for rows.Next() {
		var rc renewalCand
		var m int64
		if err := rows.Scan(&rc.Earned, &m); err != nil {
			rows.Close()
			return nil, err
		}
		rc.MCID = strconv.FormatInt(m, 10)
		w.renewals = append(w.renewals, rc)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT question_id, id FROM assessment_choices WHERE correct`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var q, ch uuid.UUID
		if err := rows.Scan(&q, &ch); err != nil {
			rows.Close()
			return nil, err
		}
		if w.correct[q] == nil {
			w.correct[q] = map[uuid.UUID]bool{}
		}
		w.correct[q][ch] = true
	}
	rows.Close()
	w.attemptOfDB = func(ctx context.Context, earned uuid.UUID) (uuid.UUID, error) {
		var id uuid.UUID
		err := db.QueryRowContext(ctx, `SELECT id FROM assessment_attempts WHERE earned_certification_id = $1 AND submitted_at IS NULL`, earned).Scan(&id)
		return id, err
	}
	log.Printf("workload: %d exam codes, %d writer profiles, %d merge pairs, %d renewal candidates",
		len(w.exams), len(w.writerMCIDs), len(w.mergePairs), len(w.renewals))
	return w, nil
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// verify checks every acknowledged write against the database (the primary, through the
// same multi-host DSN) and counts duplicates.
func verify(ctx context.Context, db *sql.DB, w *workload, sk *sink, sentBefore, mailsBefore int) (findings, error) {
	w.mu.Lock()
	led := w.led
	w.mu.Unlock()
	f := findings{Lost: map[string][]string{}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	have := func(q string, args ...any) (map[string]bool, error) {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		ks, err := scanStrings(rows)
		out := map[string]bool{}
		for _, k := range ks {
			out[k] = true
		}
		return out, err
	}
	exams, err := have(`SELECT external_id FROM exam_results WHERE external_id LIKE $1`, "drill-"+w.run+"-%")
	if err != nil {
		return f, fmt.Errorf("verify exam results: %w", err)
	}
	f.Lost["exam"] = missing(led.Exams, exams)
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT external_id FROM exam_results WHERE external_id LIKE $1
		GROUP BY external_id HAVING count(*) > 1) d`, "drill-"+w.run+"-%").Scan(&f.DuplicateExams); err != nil {
		return f, err
	}
	merged, err := have(`SELECT id::text FROM certification_profiles WHERE id = ANY($1::uuid[]) AND status = 'MERGED'`, pq.Array(led.Merges))
	if err != nil {
		return f, fmt.Errorf("verify merges: %w", err)
	}
	f.Lost["merge"] = missing(led.Merges, merged)
	started, err := have(`SELECT id::text FROM assessment_attempts WHERE id = ANY($1::uuid[])`, pq.Array(led.Starts))
	if err != nil {
		return f, fmt.Errorf("verify starts: %w", err)
	}
	f.Lost["start"] = missing(led.Starts, started)
	submitted, err := have(`SELECT id::text FROM assessment_attempts WHERE id = ANY($1::uuid[]) AND submitted_at IS NOT NULL`, pq.Array(led.Submits))
	if err != nil {
		return f, fmt.Errorf("verify submits: %w", err)
	}
	f.Lost["submit"] = missing(led.Submits, submitted)
	var sent int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE sent_at IS NOT NULL`).Scan(&sent); err != nil {
		return f, err
	}
	f.SentInDB = sent - sentBefore
	// By id, not by count: every reminder the instances record as sent went through this sink
	// (it runs from before their start), so one the sink never got is an email lost.
	rows, err := db.QueryContext(ctx, `SELECT id::text FROM notifications WHERE sent_at IS NOT NULL ORDER BY sent_at`)
	if err != nil {
		return f, err
	}
	received := sk.reminderIDs()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return f, err
		}
		if !received[id] {
			f.NeverReceived = append(f.NeverReceived, id)
		}
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	distinct, twice, keys := sk.counts()
	f.Reminders, f.RemindersTwice, f.TwiceIDs = distinct-mailsBefore, twice, keys
	return f, nil
}
