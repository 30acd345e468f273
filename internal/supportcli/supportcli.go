// Package supportcli is `recert support`: the command-line tool support staff use to search
// certification profiles, preview a merge, merge duplicates and read a profile's audit trail,
// talking to a Recert server over GraphQL (docs/domain.md "Merging").
//
//	recert support search QUERY [--first N] [--after CURSOR]
//	recert support preview SURVIVOR DUPLICATE
//	recert support merge SURVIVOR DUPLICATE --reason TEXT [--ticket REF] [--keep survivor|duplicate]
//	                                          [--idempotency-key KEY] [--yes]
//	recert support audit PROFILE [--first N]
//
// A profile is given by MCID (digits) or by its API id. The server comes from --url or
// RECERT_URL (default http://127.0.0.1:8080), the support token from --token or RECERT_TOKEN;
// nothing else of the server's configuration is read. --json prints the result as JSON with
// the API's field names; --timeout (default 30s) bounds every HTTP request.
//
// merge shows the preview and asks for confirmation on stdin unless --yes. It always sends
// an idempotency key (a new random one unless --idempotency-key is given) and prints it
// before sending, with the exact command that retries the merge safely: the server answers a
// retry with the first merge's result instead of merging twice.
package supportcli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/cli"
)

// IO is what the tool reads and writes.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	HTTP   *http.Client // nil: a new client; --timeout is set on a copy in any case
}

// Std is the process's own stdin, stdout, stderr and environment.
func Std() IO { return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

// DefaultURL is the server address when neither --url nor RECERT_URL is set (the server's
// default LISTEN_ADDR).
const DefaultURL = "http://127.0.0.1:8080"

// ErrCancelled is returned when the operator does not confirm a merge.
var ErrCancelled = errors.New("merge cancelled: nothing was changed")

// DefaultTimeout bounds every HTTP request the tool makes when --timeout is not given.
const DefaultTimeout = 30 * time.Second

const usage = `usage: recert support <command> [arguments] [flags]

commands:
  search QUERY [--first N] [--after CURSOR]      find profiles by MCID, email or part of the name
  preview SURVIVOR DUPLICATE                     what merging DUPLICATE into SURVIVOR would do
  merge SURVIVOR DUPLICATE --reason TEXT         merge DUPLICATE into SURVIVOR (asks to confirm)
        [--ticket REF] [--keep survivor|duplicate] [--idempotency-key KEY] [--yes]
  audit PROFILE [--first N]                      a profile's audit trail, newest first

flags of every command:
  --url URL          the server (default $RECERT_URL, else ` + DefaultURL + `)
  --token TOKEN      a token with the support role (default $RECERT_TOKEN)
  --json             print the result as JSON (the API's field names) instead of tables
  --timeout DURATION bound on each HTTP request (default ` + "30s" + `)

A profile is an MCID (digits) or an API id. recert support COMMAND --help describes a command.
The tool reads no server configuration: only --url, --token and the two variables above.
`

// command is one support command: its usage line and description, and what runs it.
type command struct {
	synopsis, about string
	run             func(ctx context.Context, s *session, args []string) error
}

var commands = map[string]command{
	"search": {"QUERY [--first N] [--after CURSOR] [flags]",
		"Finds certification profiles by MCID, email (alternate emails too) or part of the name.", search},
	"preview": {"SURVIVOR DUPLICATE [flags]",
		"Shows what merging DUPLICATE into SURVIVOR would move, supersede and conflict on; changes nothing.", preview},
	"merge": {"SURVIVOR DUPLICATE --reason TEXT [--ticket REF] [--keep survivor|duplicate] [--idempotency-key KEY] [--yes] [flags]",
		`Merges DUPLICATE into SURVIVOR after showing the preview and asking for confirmation (unless
--yes). It prints the idempotency key it sends and the command that retries the merge safely.
With --json, the preview and the prompt go to stderr and stdout gets only the result.`, mergeCmd},
	"audit": {"PROFILE [--first N] [flags]", "Lists a profile's audit trail, newest first.", audit},
}

// session is one run of a support command: its flags, output and client.
type session struct {
	IO
	fs      *flag.FlagSet
	c       *Client
	json    bool
	connect func() error
}

// Run runs `support` with args (the words after "support").
func Run(ctx context.Context, args []string, sio IO) error {
	if sio.Getenv == nil {
		sio.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 || cli.IsHelp(args[0]) && len(args) == 1 {
		fmt.Fprint(sio.Stdout, usage)
		return nil
	}
	if cli.IsHelp(args[0]) {
		args = []string{args[1], "--help"}
	}
	name, args := args[0], args[1:]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprint(sio.Stderr, usage)
		return fmt.Errorf("unknown support command %q", name)
	}
	fs := cli.FlagSet("support "+name, cmd.synopsis, cmd.about)
	urlFlag := fs.String("url", "", "Recert server URL (default $RECERT_URL, else "+DefaultURL+")")
	tokenFlag := fs.String("token", "", "support bearer token (default $RECERT_TOKEN)")
	jsonFlag := fs.Bool("json", false, "print the result as JSON instead of tables")
	timeout := fs.Duration("timeout", DefaultTimeout, "bound on each HTTP request to the server")
	s := &session{IO: sio, fs: fs, c: &Client{}}
	s.connect = func() error {
		s.json = *jsonFlag
		if *timeout <= 0 {
			return fmt.Errorf("--timeout must be positive, got %s", *timeout)
		}
		hc := http.Client{}
		if sio.HTTP != nil {
			hc = *sio.HTTP
		}
		hc.Timeout = *timeout
		s.c.HTTP = &hc
		raw := first(*urlFlag, sio.Getenv("RECERT_URL"), DefaultURL)
		ep, err := endpoint(raw)
		if err != nil {
			return err
		}
		s.c.URL = ep
		s.c.Token = first(*tokenFlag, sio.Getenv("RECERT_TOKEN"))
		if s.c.Token == "" {
			return errors.New("no token: pass --token or set RECERT_TOKEN (a token with the support role)")
		}
		return nil
	}
	err := cmd.run(ctx, s, args)
	if cli.Helped(err) {
		return nil
	}
	return err
}

// emit prints v as indented JSON with --json, else runs text.
func (s *session) emit(v any, text func() error) error {
	if !s.json {
		return text()
	}
	enc := json.NewEncoder(s.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// human is where text meant for the operator goes: stdout, or stderr when stdout carries JSON.
func (s *session) human() io.Writer {
	if s.json {
		return s.Stderr
	}
	return s.Stdout
}

func first(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parse parses the flags and the want positional arguments of the command.
func (s *session) parse(args []string, want int, names string) ([]string, error) {
	pos, err := cli.Parse(s.fs, args, s.Stdout, s.Stderr)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		return nil, fmt.Errorf("%s: want %s", s.fs.Name(), names)
	}
	return pos, nil
}

// profile is a certification profile as the tool shows it.
type profile struct {
	ID              string   `json:"id"`
	MCID            string   `json:"mcid"`
	LegalName       string   `json:"legalName"`
	Email           string   `json:"email"`
	AlternateEmails []string `json:"alternateEmails"`
	Status          string   `json:"status"`
	MergedInto      *struct {
		ID   string `json:"id"`
		MCID string `json:"mcid"`
	} `json:"mergedInto"`
}

const profileFields = `id mcid legalName email alternateEmails status mergedInto { id mcid }`

// ref is a profile named on the command line, resolved.
type ref struct {
	arg string
	// id is what to send to the API: the id given, or the id of the profile holding the MCID.
	id string
	// shown is the profile the argument resolves to: an MCID resolves to its current
	// survivor, an id to the profile itself.
	shown profile
	// merged is set when the argument names a profile that has been merged away; into is
	// the MCID it was merged into.
	merged bool
	into   string
}

func isMCID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// resolve looks a command-line profile up. Merged profiles resolve to their survivor; the
// ref says so.
func resolve(ctx context.Context, c *Client, arg string) (ref, error) {
	if isMCID(arg) {
		var out struct{ CertificationProfile *profile }
		if err := c.Do(ctx, `query($m: String!) { certificationProfile(mcid: $m) { `+profileFields+` } }`,
			map[string]any{"m": arg}, &out); err != nil {
			return ref{}, err
		}
		if out.CertificationProfile == nil {
			return ref{}, fmt.Errorf("no certification profile with MCID %s", arg)
		}
		p := *out.CertificationProfile
		return ref{arg: arg, id: p.ID, shown: p, merged: p.MCID != arg, into: "MCID " + p.MCID}, nil
	}
	var out struct{ Node *profile }
	if err := c.Do(ctx, `query($id: ID!) { node(id: $id) { ... on CertificationProfile { `+profileFields+` } } }`,
		map[string]any{"id": arg}, &out); err != nil {
		return ref{}, err
	}
	if out.Node == nil || out.Node.ID == "" {
		return ref{}, fmt.Errorf("no certification profile with id %s", arg)
	}
	r := ref{arg: arg, id: arg, shown: *out.Node, merged: out.Node.Status == "MERGED"}
	if r.merged {
		r.into = "another profile"
		if m := out.Node.MergedInto; m != nil {
			r.into = "MCID " + m.MCID
		}
	} else {
		r.into = "MCID " + out.Node.MCID
	}
	return r, nil
}

func search(ctx context.Context, s *session, args []string) error {
	n := s.fs.Int("first", 20, "how many profiles to list (1-100)")
	after := s.fs.String("after", "", "cursor of the page to continue after")
	pos, err := s.parse(args, 1, "QUERY")
	if err != nil {
		return err
	}
	c := s.c
	if err := s.connect(); err != nil {
		return err
	}
	vars := map[string]any{"q": pos[0], "first": *n}
	if *after != "" {
		vars["after"] = *after
	}
	var out struct {
		SearchCertificationProfiles struct {
			TotalCount int       `json:"totalCount"`
			Nodes      []profile `json:"nodes"`
			PageInfo   struct {
				HasNextPage bool    `json:"hasNextPage"`
				EndCursor   *string `json:"endCursor"`
			} `json:"pageInfo"`
		}
	}
	if err := c.Do(ctx, `query($q: String!, $first: Int, $after: String) {
  searchCertificationProfiles(query: $q, first: $first, after: $after) {
    totalCount nodes { `+profileFields+` } pageInfo { hasNextPage endCursor } } }`, vars, &out); err != nil {
		return err
	}
	res := out.SearchCertificationProfiles
	return s.emit(res, func() error {
		w := table(s.Stdout)
		fmt.Fprintln(w, "MCID\tNAME\tEMAIL\tALTERNATE EMAILS\tSTATUS\tID")
		for _, p := range res.Nodes {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.MCID, p.LegalName, p.Email, dash(strings.Join(p.AlternateEmails, ", ")), p.Status, p.ID)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "%d of %d profiles\n", len(res.Nodes), res.TotalCount)
		if res.PageInfo.HasNextPage && res.PageInfo.EndCursor != nil {
			fmt.Fprintf(s.Stdout, "more: --after %s\n", *res.PageInfo.EndCursor)
		}
		return nil
	})
}

type earned struct {
	ID            string  `json:"id"`
	EarnedOn      string  `json:"earnedOn"`
	ExpiresOn     *string `json:"expiresOn"`
	Certification struct {
		Code string `json:"code"`
		Name string `json:"name"`
	} `json:"certification"`
}

type previewData struct {
	Survivor                 profile  `json:"survivor"`
	Duplicate                profile  `json:"duplicate"`
	MovingCertifications     int      `json:"movingCertifications"`
	MovingExamResults        int      `json:"movingExamResults"`
	MovingAttempts           int      `json:"movingAttempts"`
	SupersededCertifications []earned `json:"supersededCertifications"`
	Conflicts                []string `json:"conflicts"`
}

const previewQuery = `mutation($in: PreviewCertificationProfileMergeInput!) {
  previewCertificationProfileMerge(input: $in) { preview {
    survivor { ` + profileFields + ` } duplicate { ` + profileFields + ` }
    movingCertifications movingExamResults movingAttempts
    supersededCertifications { id earnedOn expiresOn certification { code name } }
    conflicts } } }`

func fetchPreview(ctx context.Context, c *Client, survivor, duplicate string) (previewData, error) {
	var out struct {
		PreviewCertificationProfileMerge struct{ Preview previewData }
	}
	err := c.Do(ctx, previewQuery, map[string]any{"in": map[string]any{"survivorId": survivor, "duplicateId": duplicate}}, &out)
	return out.PreviewCertificationProfileMerge.Preview, err
}

// refuseMerged explains a command-line profile that has already been merged away.
func refuseMerged(r ref) error {
	return fmt.Errorf("%s has already been merged into %s; use that profile", r.arg, r.into)
}

func preview(ctx context.Context, s *session, args []string) error {
	pos, err := s.parse(args, 2, "SURVIVOR DUPLICATE")
	if err != nil {
		return err
	}
	c := s.c
	if err := s.connect(); err != nil {
		return err
	}
	sv, d, err := resolvePair(ctx, c, pos)
	if err != nil {
		return err
	}
	for _, r := range []ref{sv, d} {
		if r.merged {
			return refuseMerged(r)
		}
	}
	pv, err := fetchPreview(ctx, c, sv.id, d.id)
	if err != nil {
		return err
	}
	return s.emit(pv, func() error { return printPreview(s.Stdout, pv) })
}

func resolvePair(ctx context.Context, c *Client, pos []string) (ref, ref, error) {
	s, err := resolve(ctx, c, pos[0])
	if err != nil {
		return ref{}, ref{}, fmt.Errorf("survivor: %w", err)
	}
	d, err := resolve(ctx, c, pos[1])
	if err != nil {
		return ref{}, ref{}, fmt.Errorf("duplicate: %w", err)
	}
	return s, d, nil
}

func printPreview(out io.Writer, pv previewData) error {
	w := table(out)
	fmt.Fprintln(w, "\tSURVIVOR (kept)\tDUPLICATE (merged away)")
	fmt.Fprintf(w, "MCID\t%s\t%s\n", pv.Survivor.MCID, pv.Duplicate.MCID)
	fmt.Fprintf(w, "NAME\t%s\t%s\n", pv.Survivor.LegalName, pv.Duplicate.LegalName)
	fmt.Fprintf(w, "EMAIL\t%s\t%s\n", pv.Survivor.Email, pv.Duplicate.Email)
	fmt.Fprintf(w, "STATUS\t%s\t%s\n", pv.Survivor.Status, pv.Duplicate.Status)
	fmt.Fprintf(w, "ID\t%s\t%s\n", pv.Survivor.ID, pv.Duplicate.ID)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "MOVES TO THE SURVIVOR\tCOUNT")
	fmt.Fprintf(w, "earned certifications\t%d\n", pv.MovingCertifications)
	fmt.Fprintf(w, "exam results\t%d\n", pv.MovingExamResults)
	fmt.Fprintf(w, "renewal assessment attempts\t%d\n", pv.MovingAttempts)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if len(pv.SupersededCertifications) == 0 {
		fmt.Fprintln(out, "Becomes SUPERSEDED: none")
	} else {
		fmt.Fprintln(out, "Becomes SUPERSEDED (the same certification is held with a later expiry):")
		w = table(out)
		fmt.Fprintln(w, "CERTIFICATION\tEARNED\tEXPIRES\tID")
		for _, e := range pv.SupersededCertifications {
			exp := "never"
			if e.ExpiresOn != nil {
				exp = *e.ExpiresOn
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Certification.Code, e.EarnedOn, exp, e.ID)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	if len(pv.Conflicts) == 0 {
		fmt.Fprintln(out, "Conflicts: none")
	} else {
		fmt.Fprintln(out, "Conflicts:")
		for _, c := range pv.Conflicts {
			fmt.Fprintf(out, "  - %s\n", c)
		}
	}
	return nil
}

const mergeQuery = `mutation($in: MergeCertificationProfilesInput!) {
  mergeCertificationProfiles(input: $in) {
    survivor { ` + profileFields + ` } duplicate { ` + profileFields + ` }
    auditEvent { id action actor occurredAt } } }`

func mergeCmd(ctx context.Context, sn *session, args []string) error {
	fs := sn.fs
	reason := fs.String("reason", "", "why the profiles are merged (required; kept in the audit trail)")
	ticket := fs.String("ticket", "", "support ticket reference")
	keep := fs.String("keep", "", "when both profiles are connected to Learn profiles: the connection to keep, survivor or duplicate")
	key := fs.String("idempotency-key", "", "reuse the key printed by an interrupted run to retry it safely")
	yes := fs.Bool("yes", false, "merge without asking for confirmation")
	pos, err := sn.parse(args, 2, "SURVIVOR DUPLICATE")
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New("merge: --reason is required (it goes into the audit trail)")
	}
	var side any
	switch strings.ToLower(strings.TrimSpace(*keep)) {
	case "":
	case "survivor":
		side = "SURVIVOR"
	case "duplicate":
		side = "DUPLICATE"
	default:
		return fmt.Errorf("merge: --keep must be survivor or duplicate, got %q", *keep)
	}
	c := sn.c
	if err := sn.connect(); err != nil {
		return err
	}
	human := sn.human()
	s, d, err := resolvePair(ctx, c, pos)
	if err != nil {
		return err
	}
	retry := *key != ""
	k := *key
	if !retry {
		k = uuid.NewString()
	}
	alreadyMerged := s.merged || d.merged
	switch {
	case alreadyMerged && (!retry || isMCID(s.arg) || isMCID(d.arg)):
		// A new merge of a merged profile, or a retry by MCID (which no longer names the
		// duplicate): refuse here rather than send a request that cannot be the first one.
		for _, r := range []ref{s, d} {
			if r.merged {
				return refuseMerged(r)
			}
		}
	case alreadyMerged:
		fmt.Fprintf(human, "%s has already been merged; asking the server for the result stored under key %s.\n", d.arg, k)
	default:
		pv, err := fetchPreview(ctx, c, s.id, d.id)
		if err != nil {
			return err
		}
		if err := printPreview(human, pv); err != nil {
			return err
		}
		for _, cf := range pv.Conflicts {
			if strings.HasPrefix(cf, "MERGE_LINK_CONFLICT") && side == nil {
				return errors.New("merge: both profiles are connected to Learn profiles; rerun with --keep survivor (the duplicate's Learn profile belongs to another account, so its connection cannot move)")
			}
		}
	}
	retryCmd := fmt.Sprintf("recert support merge %s %s --reason %s --idempotency-key %s", s.id, d.id, strconv.Quote(*reason), k)
	if *ticket != "" {
		retryCmd += " --ticket " + strconv.Quote(*ticket)
	}
	if side != nil {
		retryCmd += " --keep " + strings.ToLower(side.(string))
	}
	fmt.Fprintf(human, "\nIdempotency key: %s\nIf this command is interrupted, retry it safely with:\n  %s\n\n", k, retryCmd)
	if !*yes && !alreadyMerged {
		fmt.Fprintf(human, "Merge MCID %s into MCID %s? This cannot be undone. Type yes to continue: ", d.shown.MCID, s.shown.MCID)
		line, _ := bufio.NewReader(sn.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
			fmt.Fprintln(human)
			return ErrCancelled
		}
	}
	in := map[string]any{"survivorId": s.id, "duplicateId": d.id, "reason": *reason, "idempotencyKey": k}
	if *ticket != "" {
		in["ticket"] = *ticket
	}
	if side != nil {
		in["keepLearnProfileOf"] = side
	}
	var out struct{ MergeCertificationProfiles mergeResult }
	if err := c.Do(ctx, mergeQuery, map[string]any{"in": in}, &out); err != nil {
		return err
	}
	res := out.MergeCertificationProfiles
	return sn.emit(struct {
		IdempotencyKey string `json:"idempotencyKey"`
		mergeResult
	}{k, res}, func() error { return printMerged(sn.Stdout, res) })
}

// auditEvent is an audit event as the tool shows it.
type auditEvent struct {
	ID         string  `json:"id"`
	Action     string  `json:"action"`
	Actor      string  `json:"actor"`
	Reason     *string `json:"reason,omitempty"`
	Ticket     *string `json:"ticket,omitempty"`
	OccurredAt string  `json:"occurredAt"`
}

type mergeResult struct {
	Survivor   profile    `json:"survivor"`
	Duplicate  profile    `json:"duplicate"`
	AuditEvent auditEvent `json:"auditEvent"`
}

func printMerged(out io.Writer, res mergeResult) error {
	fmt.Fprintln(out, "Merged.")
	w := table(out)
	fmt.Fprintln(w, "\tSURVIVOR\tDUPLICATE")
	fmt.Fprintf(w, "MCID\t%s\t%s\n", res.Survivor.MCID, res.Duplicate.MCID)
	fmt.Fprintf(w, "STATUS\t%s\t%s\n", res.Survivor.Status, res.Duplicate.Status)
	fmt.Fprintf(w, "EMAIL\t%s\t%s\n", res.Survivor.Email, res.Duplicate.Email)
	fmt.Fprintf(w, "ALTERNATE EMAILS\t%s\t%s\n", dash(strings.Join(res.Survivor.AlternateEmails, ", ")),
		dash(strings.Join(res.Duplicate.AlternateEmails, ", ")))
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "Audit event %s (%s by %s at %s)\n", res.AuditEvent.ID, res.AuditEvent.Action,
		res.AuditEvent.Actor, res.AuditEvent.OccurredAt)
	return nil
}

func audit(ctx context.Context, s *session, args []string) error {
	n := s.fs.Int("first", 20, "how many events to list (1-100)")
	pos, err := s.parse(args, 1, "PROFILE")
	if err != nil {
		return err
	}
	c := s.c
	if err := s.connect(); err != nil {
		return err
	}
	r, err := resolve(ctx, c, pos[0])
	if err != nil {
		return err
	}
	var out struct {
		Node *struct {
			AuditEvents struct {
				TotalCount int          `json:"totalCount"`
				Nodes      []auditEvent `json:"nodes"`
			}
		}
	}
	if err := c.Do(ctx, `query($id: ID!, $first: Int) { node(id: $id) { ... on CertificationProfile {
  auditEvents(first: $first) { totalCount nodes { id action actor reason ticket occurredAt } } } } }`,
		map[string]any{"id": r.shown.ID, "first": *n}, &out); err != nil {
		return err
	}
	if out.Node == nil {
		return fmt.Errorf("no certification profile %s", pos[0])
	}
	if r.merged && isMCID(r.arg) {
		fmt.Fprintf(s.human(), "MCID %s was merged into %s; showing the audit trail of %s.\n", r.arg, r.into, r.into)
	}
	events := out.Node.AuditEvents
	return s.emit(struct {
		Profile    profile      `json:"profile"`
		TotalCount int          `json:"totalCount"`
		Nodes      []auditEvent `json:"nodes"`
	}{r.shown, events.TotalCount, events.Nodes}, func() error {
		w := table(s.Stdout)
		fmt.Fprintln(w, "OCCURRED\tACTION\tACTOR\tTICKET\tREASON\tID")
		for _, e := range events.Nodes {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.OccurredAt, e.Action, e.Actor, dash(deref(e.Ticket)), dash(deref(e.Reason)), e.ID)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "%d of %d events\n", len(events.Nodes), events.TotalCount)
		return nil
	})
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
