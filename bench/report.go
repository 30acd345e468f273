package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report prints the machine, every phase, and the dashboard's medians against the limit and
// the targets of issue 8.
func (e *env) report(w io.Writer) {
	fmt.Fprintf(w, "\n## Machine\n\n%s\n", machine())
	fmt.Fprintf(w, "\n## Phases (concurrency %d, %s per phase, go %s)\n\n", e.o.concurrency, e.o.duration, runtime.Version())
	fmt.Fprintln(w, "CPU is in % of one core (200 % = both cores); PostgreSQL's is its backends' for the same phase.")
	fmt.Fprintln(w, "| phase | server | requests | req/s | p50 | p99 | max | errors | server CPU | PostgreSQL CPU | server peak RSS |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range e.results {
		pg := "n/a"
		if r.Proc.PGPercent >= 0 {
			pg = fmt.Sprintf("%.0f %%", r.Proc.PGPercent)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.1f | %s | %s | %s | %d | %.0f %% | %s | %.1f MB |\n", r.Phase, r.Server, r.Requests, r.RPS,
			ms(r.P50), ms(r.P99), ms(r.Max), r.Errors, r.Proc.CPUPercent, pg, r.Proc.PeakRSSMB)
	}
	for _, r := range e.results {
		if r.FirstErr != "" {
			fmt.Fprintf(w, "\nfirst error of %s/%s: %s\n", r.Phase, r.Server, r.FirstErr)
		}
	}
	var rr, lr, rp, lp, rp50, lp50, rss []float64
	for _, r := range e.results {
		if r.Phase != "dashboard" {
			continue
		}
		switch r.Server {
		case "recert":
			rr, rp, rp50, rss = append(rr, r.RPS), append(rp, r.P99.Seconds()), append(rp50, r.P50.Seconds()), append(rss, r.Proc.PeakRSSMB)
		case "limit":
			lr, lp, lp50 = append(lr, r.RPS), append(lp, r.P99.Seconds()), append(lp50, r.P50.Seconds())
		}
	}
	if len(rr) > 0 {
		fmt.Fprintf(w, "\n## Dashboard medians (%d rounds)\n\n", len(rr))
		fmt.Fprintln(w, "| server | req/s | p50 | p99 |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
		fmt.Fprintf(w, "| recert | %.1f | %s | %s |\n", median(rr), secs(median(rp50)), secs(median(rp)))
		if len(lr) > 0 {
			fmt.Fprintf(w, "| limit | %.1f | %s | %s |\n", median(lr), secs(median(lp50)), secs(median(lp)))
			ratio, p99ratio := median(rr)/median(lr), median(rp)/median(lp)
			fmt.Fprintf(w, "\nRecert / limit: req/s %.2f (target >= 0.6, issue 12: %s), p99 %.2fx (target <= 1.5x: %s)\n",
				ratio, verdict(ratio >= 0.6), p99ratio, verdict(p99ratio <= 1.5))
		}
		peak := 0.0
		for _, v := range rss {
			peak = max(peak, v)
		}
		fmt.Fprintf(w, "Recert peak RSS during the dashboard rounds: %.1f MB (target < 150 MB: %s)\n", peak, verdict(peak < 150))
	}
	for _, n := range e.reminderNotes {
		fmt.Fprintf(w, "Reminder scheduling %s\n", n)
	}
	for _, r := range e.results {
		if r.Phase == "reminders:pass1" || r.Phase == "reminders:pass2" {
			fmt.Fprintf(w, "Reminder %s: %s (target < 10 s: %s)\n", strings.TrimPrefix(r.Phase, "reminders:"), ms(r.Max),
				verdict(r.Max < 10*time.Second && r.Errors == 0))
		}
	}
	for _, r := range e.results {
		if r.Phase == "merge1000" && r.Requests > 0 {
			fmt.Fprintf(w, "Merge of a 1,000-certification profile: p50 %s, max %s (target < 200 ms: %s)\n",
				ms(r.P50), ms(r.Max), verdict(r.Max < 200*time.Millisecond && r.Errors == 0))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func secs(s float64) string { return fmt.Sprintf("%.2f ms", s*1000) }

// machine describes the host: cores, memory, CPU model.
func machine() string {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/1024/1024)
			}
		}
	}
	return fmt.Sprintf("- CPU: %s, %d cores visible (nproc)\n- memory: %s\n- load generator, Recert, the limit and PostgreSQL share these cores",
		model, runtime.NumCPU(), mem)
}
