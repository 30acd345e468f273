package querylimits

import (
	"encoding/json"
	"math"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/team"
	"github.com/recert/recert/internal/transcript"
)

// The cost model, read from the schema so every operation (present and future) is covered
// without per-resolver configuration, in the spirit of GitHub's and Shopify's query costs:
//
//   - every field of an object, interface or union type costs fieldCost, every mutation field
//     mutationCost, scalars and enums nothing; FieldCosts overrides a field ("Type.field");
//   - a list field costs its own cost and its children's once per item, and the item count is
//     its real bound, from ListBounds: for the edges and nodes of a connection (Paged), the
//     `first` argument of the connection field; for every other list, the most items its
//     resolver ever returns (a configured cap, or a constant the domain or resolver enforces).
//     A list missing from ListBounds is priced at MaxPage items (TestEveryListHasABound keeps
//     the table complete);
//   - `first` is checked against 1..100 before it takes part in any arithmetic (absent means
//     20), and all arithmetic saturates, so no document can overflow its way under the limit;
//   - introspection (__schema, __type) costs fieldCost in all: it is off in production except
//     for staff, and validation already bounds its nesting.
//
// Each fragment is costed once, as fixed + perItem × (item count of its context), so a chain of
// fragments each spreading the next twice costs linear time to price.
const (
	fieldCost    = 1
	mutationCost = 10
	maxCost      = math.MaxInt32
)

// DefaultPage is the page size when `first` is omitted; MaxPage caps it (docs/api.md "Pagination").
// The resolvers' page sizes and the cost model read these same two numbers.
const (
	DefaultPage = 20
	MaxPage     = 100
)

// Paged marks a list in ListBounds whose items are counted by the `first` argument of the
// connection field that returns its parent.
const Paged = -1

// Bounds of the lists whose resolvers cut them (README "Hardening").
const (
	// ListedRenewals is the most EarnedCertification.renewals lists, the latest ones (a
	// certification renews at most once a year).
	ListedRenewals = 20
	// ListedAttempts is the most EarnedCertification.attempts lists, the latest ones.
	ListedAttempts = 20
	// ListedEarned is the most RecordExamResultPayload.earnedCertifications and
	// MergePreview.supersededCertifications list.
	ListedEarned = 100
)

// ListBounds maps a list field ("Type.field") to the most items it returns, or Paged.
type ListBounds map[string]int

// DefaultListBounds prices every list of the schema that returns objects (a list of scalars or
// enums costs nothing whatever its length). The two learner-made lists take the default caps;
// BoundsFor sets the configured ones.
var DefaultListBounds = ListBounds{
	"CertificationConnection.edges":         Paged,
	"CertificationConnection.nodes":         Paged,
	"CertificationProfileConnection.edges":  Paged,
	"CertificationProfileConnection.nodes":  Paged,
	"EarnedCertificationConnection.edges":   Paged,
	"EarnedCertificationConnection.nodes":   Paged,
	"ExamResultConnection.edges":            Paged,
	"ExamResultConnection.nodes":            Paged,
	"NotificationConnection.edges":          Paged,
	"NotificationConnection.nodes":          Paged,
	"AuditEventConnection.edges":            Paged,
	"AuditEventConnection.nodes":            Paged,
	"TeamMemberConnection.edges":            Paged,
	"WebhookEndpointConnection.edges":       Paged,
	"WebhookEndpointConnection.nodes":       Paged,
	"WebhookDeliveryConnection.edges":       Paged,
	"WebhookDeliveryConnection.nodes":       Paged,
	"Viewer.certificationProfiles":          certprofile.DefaultMaxProfilesPerAccount,
	"CertificationProfile.transcriptShares": transcript.ListedShares(transcript.DefaultMaxLiveShares),
	"CertificationProfile.calendarFeeds":    calendar.Listed,
	// upsertCertification and publishRenewalAssessment refuse longer lists; an attempt serves
	// at most MaxQuestionsPerAttempt questions.
	"Certification.prerequisites":                  catalog.MaxPrerequisites,
	"Certification.requirementPaths":               catalog.MaxPaths * catalog.MaxExamsPerPath,
	"RenewalAssessment.learningModules":            catalog.MaxModules,
	"AssessmentAttempt.questions":                  catalog.MaxQuestionsPerAttempt,
	"AssessmentQuestion.choices":                   catalog.MaxChoices,
	"EarnedCertification.renewals":                 ListedRenewals,
	"EarnedCertification.attempts":                 ListedAttempts,
	"Transcript.certifications":                    transcript.MaxPublicItems,
	"Transcript.examResults":                       transcript.MaxPublicItems,
	"MergePreview.supersededCertifications":        ListedEarned,
	"RecordExamResultPayload.earnedCertifications": ListedEarned,
	"CertificationProfile.teamAccessGrants":        team.ListedGrants,
	"TeamMember.certifications":                    team.ListedCertifications,
}

// BoundsFor returns DefaultListBounds with the configured caps on profiles per account and
// live share codes per profile.
func BoundsFor(maxProfiles, maxLiveShares int) ListBounds {
	b := make(ListBounds, len(DefaultListBounds))
	for k, v := range DefaultListBounds {
		b[k] = v
	}
	b["Viewer.certificationProfiles"] = maxProfiles
	b["CertificationProfile.transcriptShares"] = transcript.ListedShares(maxLiveShares)
	return b
}

// FieldCosts overrides the own cost of fields that do more work than a load by key.
var FieldCosts = map[string]int{
	"Query.searchCertificationProfiles":         10,
	"Mutation.previewCertificationProfileMerge": 20,
	"Mutation.mergeCertificationProfiles":       20,
	"Mutation.publishRenewalAssessment":         20,
	"Team.members":                              10,
}

// sliceArg is the argument that sizes the lists below a field.
const sliceArg = "first"

// costPair is the cost of a selection set in a context that has n items: fixed + n*perItem.
type costPair struct{ fixed, perItem int }

func (c costPair) at(n int) int { return satAdd(c.fixed, satMul(n, c.perItem)) }

// costWalker prices a validated operation.
type costWalker struct {
	vars     map[string]any
	bounds   ListBounds
	mutation string // name of the mutation root type
	memo     map[string]costPair
	active   map[string]bool
	err      *LimitError
}

// Cost prices a validated operation of schema with the given (coerced) variables and
// DefaultListBounds. Codes: BAD_USER_INPUT (a `first` outside 1..100).
func Cost(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) (int, *LimitError) {
	return CostWith(schema, op, vars, DefaultListBounds)
}

// CostWith is Cost with the given list bounds (nil: DefaultListBounds).
func CostWith(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any, bounds ListBounds) (int, *LimitError) {
	if bounds == nil {
		bounds = DefaultListBounds
	}
	w := &costWalker{vars: vars, bounds: bounds, memo: map[string]costPair{}, active: map[string]bool{}}
	if schema != nil && schema.Mutation != nil {
		w.mutation = schema.Mutation.Name
	}
	// Paged lists hang only below connection fields, which give their own item count; a
	// selection set anywhere else has no per-item part.
	total := w.set(op.SelectionSet).at(0)
	if w.err != nil {
		return 0, w.err
	}
	return min(total, maxCost), nil
}

func (w *costWalker) set(set ast.SelectionSet) costPair {
	var c costPair
	for _, s := range set {
		if w.err != nil {
			return c
		}
		var p costPair
		switch s := s.(type) {
		case *ast.Field:
			p = w.field(s)
		case *ast.InlineFragment:
			p = w.set(s.SelectionSet)
		case *ast.FragmentSpread:
			p = w.fragment(s)
		}
		c = costPair{satAdd(c.fixed, p.fixed), satAdd(c.perItem, p.perItem)}
	}
	return c
}

func (w *costWalker) fragment(s *ast.FragmentSpread) costPair {
	if p, ok := w.memo[s.Name]; ok {
		return p
	}
	if s.Definition == nil || w.active[s.Name] {
		return costPair{}
	}
	w.active[s.Name] = true
	p := w.set(s.Definition.SelectionSet)
	delete(w.active, s.Name)
	w.memo[s.Name] = p
	return p
}

// field returns the cost a field adds to its parent: in perItem when the field is a Paged list
// (its connection field says how many items there are), otherwise in fixed, multiplied by the
// list's bound when it is another list.
func (w *costWalker) field(f *ast.Field) costPair {
	if f.Definition == nil || strings.HasPrefix(f.Name, "__") {
		if f.Name == "__schema" || f.Name == "__type" {
			return costPair{fixed: fieldCost}
		}
		return costPair{} // __typename, or a field validation would have refused
	}
	own := w.own(f)
	items := 0
	if def := f.Definition.Arguments.ForName(sliceArg); def != nil {
		n, err := w.first(f)
		if err != nil {
			w.err = err
			return costPair{}
		}
		items = n
	}
	total := satAdd(own, w.set(f.SelectionSet).at(items))
	if f.Definition.Type.Elem == nil {
		return costPair{fixed: total}
	}
	parent := ""
	if f.ObjectDefinition != nil {
		parent = f.ObjectDefinition.Name
	}
	bound, ok := w.bounds[parent+"."+f.Name]
	switch {
	case !ok:
		bound = MaxPage
	case bound == Paged:
		return costPair{perItem: total}
	}
	return costPair{fixed: satMul(bound, total)}
}

func (w *costWalker) own(f *ast.Field) int {
	parent := ""
	if f.ObjectDefinition != nil {
		parent = f.ObjectDefinition.Name
	}
	if c, ok := FieldCosts[parent+"."+f.Name]; ok {
		return c
	}
	if parent != "" && parent == w.mutation {
		return mutationCost
	}
	if len(f.SelectionSet) == 0 {
		return 0 // scalar or enum
	}
	return fieldCost
}

// first reads the field's `first` argument and checks it against 1..MaxPage before any
// arithmetic sees it; absent or null means DefaultPage. Codes: BAD_USER_INPUT.
func (w *costWalker) first(f *ast.Field) (int, *LimitError) {
	arg := f.Arguments.ForName(sliceArg)
	if arg == nil {
		return DefaultPage, nil
	}
	v, err := arg.Value.Value(w.vars)
	if err != nil {
		return 0, pageSizeError()
	}
	var n int64
	switch v := v.(type) {
	case nil:
		return DefaultPage, nil
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case json.Number:
		if n, err = v.Int64(); err != nil {
			return 0, pageSizeError()
		}
	case float64:
		if v != math.Trunc(v) || v < 1 || v > MaxPage {
			return 0, pageSizeError()
		}
		n = int64(v)
	default:
		return 0, pageSizeError()
	}
	if n < 1 || n > MaxPage {
		return 0, pageSizeError()
	}
	return int(n), nil
}

func pageSizeError() *LimitError {
	return &LimitError{Reason: ReasonPageSize, Err: apperr.Invalid("first must be between 1 and %d", MaxPage)}
}

// satAdd and satMul saturate at maxCost and treat negative operands as 0.
func satAdd(a, b int) int {
	a, b = max(a, 0), max(b, 0)
	if a > maxCost-b {
		return maxCost
	}
	return a + b
}

func satMul(a, b int) int {
	a, b = max(a, 0), max(b, 0)
	if a == 0 || b == 0 {
		return 0
	}
	if a > maxCost/b {
		return maxCost
	}
	return a * b
}
