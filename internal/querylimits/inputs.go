package querylimits

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/recert/recert/internal/apperr"
)

// The maximum lengths, in characters, of the text a request may send, by kind of value. Each
// is at least the longest value the domain accepts, so the domain's own rules (and messages)
// still decide below it; above it, a value is refused before any resolver or SQL runs.
const (
	// MaxIDLength caps opaque Node ids ("Kind:uuid" in base64url is under 80 characters).
	MaxIDLength = 128
	// MaxCursorLength caps Relay cursors. The longest the server makes is a support-search
	// cursor: the folded legal name and an id, in JSON, in base64. 200 × «, folded to <<
	// and escaped by JSON as \u003c\u003c, make a cursor of about 3,300 characters.
	MaxCursorLength = 4096
	// MaxSearchLength caps free-text searches (the support search allows 200 characters).
	MaxSearchLength = 200
	// MaxCodeLength caps certification and exam codes (the catalog allows 100).
	MaxCodeLength = 100
	// MaxMCIDLength caps MCIDs (at most 18 digits are valid).
	MaxMCIDLength = 32
	// MaxShareCodeLength caps transcript share codes (the longest valid code is 100).
	MaxShareCodeLength = 100
	// MaxLanguageLength caps language tags ("en", "ja-JP", "zh-Hant-TW").
	MaxLanguageLength = 64
	// MaxNameLength caps legal names, titles and other one-line text (200 allowed).
	MaxNameLength = 200
	// MaxEmailLength caps email addresses (RFC 5321: 254).
	MaxEmailLength = 254
	// MaxKeyLength caps idempotency keys, tickets and external ids (200 allowed).
	MaxKeyLength = 200
	// MaxTextLength caps long text: merge reasons, questions, choices (2000 allowed).
	MaxTextLength = 2000
	// MaxURLLength caps URLs.
	MaxURLLength = 2048
	// DefaultMaxInputLength caps a String or ID the tables below do not name: only
	// introspection's and gqlgen's own (`__type(name:)`, `@defer(label:)`); the schema test
	// requires every String and ID of schema.graphqls to be listed.
	DefaultMaxInputLength = 1024
)

// InputMaxLengths is the one table of maximum lengths of the String and ID arguments and
// input fields of schema.graphqls, by schema coordinate (`Type.field(arg:)` for an argument,
// `Input.field` for an input field). For a list, the cap applies to each element.
var InputMaxLengths = map[string]int{
	"Query.node(id:)":                                               MaxIDLength,
	"Query.certifications(after:)":                                  MaxCursorLength,
	"Query.certification(code:)":                                    MaxCodeLength,
	"Query.certificationProfile(mcid:)":                             MaxMCIDLength,
	"Query.searchCertificationProfiles(query:)":                     MaxSearchLength,
	"Query.searchCertificationProfiles(after:)":                     MaxCursorLength,
	"Query.transcript(shareCode:)":                                  MaxShareCodeLength,
	"CertificationProfile.certifications(after:)":                   MaxCursorLength,
	"CertificationProfile.examResults(after:)":                      MaxCursorLength,
	"CertificationProfile.notifications(after:)":                    MaxCursorLength,
	"CertificationProfile.auditEvents(after:)":                      MaxCursorLength,
	"CertificationFilter.search":                                    MaxSearchLength,
	"CreateCertificationProfileInput.legalName":                     MaxNameLength,
	"CreateCertificationProfileInput.email":                         MaxEmailLength,
	"CreateCertificationProfileInput.preferredLanguage":             MaxLanguageLength,
	"LinkCertificationProfileInput.certificationProfileId":          MaxIDLength,
	"UnlinkCertificationProfileInput.certificationProfileId":        MaxIDLength,
	"RecordExamResultInput.mcid":                                    MaxMCIDLength,
	"RecordExamResultInput.examCode":                                MaxCodeLength,
	"RecordExamResultInput.language":                                MaxLanguageLength,
	"RecordExamResultInput.externalId":                              MaxKeyLength,
	"StartRenewalAssessmentInput.earnedCertificationId":             MaxIDLength,
	"StartRenewalAssessmentInput.language":                          MaxLanguageLength,
	"AnswerInput.questionId":                                        MaxIDLength,
	"AnswerInput.choiceIds":                                         MaxIDLength,
	"SubmitRenewalAssessmentInput.attemptId":                        MaxIDLength,
	"PreviewCertificationProfileMergeInput.survivorId":              MaxIDLength,
	"PreviewCertificationProfileMergeInput.duplicateId":             MaxIDLength,
	"MergeCertificationProfilesInput.survivorId":                    MaxIDLength,
	"MergeCertificationProfilesInput.duplicateId":                   MaxIDLength,
	"MergeCertificationProfilesInput.reason":                        MaxTextLength,
	"MergeCertificationProfilesInput.ticket":                        MaxKeyLength,
	"MergeCertificationProfilesInput.idempotencyKey":                MaxKeyLength,
	"CreateCertificationProfileInput.idempotencyKey":                MaxKeyLength,
	"CreateTranscriptShareInput.idempotencyKey":                     MaxKeyLength,
	"PublishRenewalAssessmentInput.idempotencyKey":                  MaxKeyLength,
	"CreateCalendarFeedInput.idempotencyKey":                        MaxKeyLength,
	"CreateWebhookEndpointInput.idempotencyKey":                     MaxKeyLength,
	"CreateTranscriptShareInput.certificationProfileId":             MaxIDLength,
	"RevokeTranscriptShareInput.shareId":                            MaxIDLength,
	"CreateCalendarFeedInput.certificationProfileId":                MaxIDLength,
	"RevokeCalendarFeedInput.calendarFeedId":                        MaxIDLength,
	"UpsertExamInput.code":                                          MaxCodeLength,
	"UpsertExamInput.title":                                         MaxNameLength,
	"UpsertExamInput.languages":                                     MaxLanguageLength,
	"UpsertExamInput.supersedes":                                    MaxCodeLength,
	"UpsertCertificationInput.code":                                 MaxCodeLength,
	"UpsertCertificationInput.name":                                 MaxNameLength,
	"UpsertCertificationInput.languages":                            MaxLanguageLength,
	"UpsertCertificationInput.requirementPaths":                     MaxCodeLength,
	"UpsertCertificationInput.prerequisites":                        MaxCodeLength,
	"QuestionChoiceInput.text":                                      MaxTextLength,
	"QuestionInput.prompt":                                          MaxTextLength,
	"QuestionTranslationInput.language":                             MaxLanguageLength,
	"QuestionTranslationInput.prompt":                               MaxTextLength,
	"QuestionTranslationInput.choices":                              MaxTextLength,
	"LearningModuleInput.title":                                     MaxTextLength,
	"LearningModuleInput.url":                                       MaxURLLength,
	"PublishRenewalAssessmentInput.certificationCode":               MaxCodeLength,
	"StartCertificationProfileTransferInput.certificationProfileId": MaxIDLength,
	"CompleteCertificationProfileTransferInput.code":                MaxShareCodeLength,
	"UpdateCertificationProfileInput.certificationProfileId":        MaxIDLength,
	"UpdateCertificationProfileInput.preferredLanguage":             MaxLanguageLength,
	"RequestContactEmailChangeInput.certificationProfileId":         MaxIDLength,
	"RequestContactEmailChangeInput.email":                          MaxEmailLength,
	"ConfirmContactEmailChangeInput.certificationProfileId":         MaxIDLength,
	"ConfirmContactEmailChangeInput.code":                           MaxShareCodeLength,
	"CorrectLegalNameInput.certificationProfileId":                  MaxIDLength,
	"CorrectLegalNameInput.legalName":                               MaxNameLength,
	"CorrectLegalNameInput.reason":                                  MaxTextLength,
	"CorrectLegalNameInput.ticket":                                  MaxKeyLength,
	"GrantTeamAccessInput.certificationProfileId":                   MaxIDLength,
	"GrantTeamAccessInput.tenantId":                                 MaxCodeLength,
	"RevokeTeamAccessInput.teamAccessGrantId":                       MaxIDLength,
	"Team.members(after:)":                                          MaxCursorLength,
	"Query.webhookEndpoints(after:)":                                MaxCursorLength,
	"WebhookEndpoint.deliveries(after:)":                            MaxCursorLength,
	"CreateWebhookEndpointInput.url":                                MaxURLLength,
	"CreateWebhookEndpointInput.description":                        MaxTextLength,
	"RotateWebhookSecretInput.webhookEndpointId":                    MaxIDLength,
	"DeleteWebhookEndpointInput.webhookEndpointId":                  MaxIDLength,
	"ReplayWebhookDeliveryInput.deliveryId":                         MaxIDLength,
}

// ScalarMaxLengths caps the text of the custom scalars, wherever they appear.
var ScalarMaxLengths = map[string]int{
	"Date":     64,
	"DateTime": 64,
}

// ReasonInput is the rejected-documents metric label of a refused argument value.
const ReasonInput = "input"

// InputGuard is the gqlgen extension that checks every string a request sends, in one
// place, after validation and variable coercion and before any resolver runs: every String,
// ID and custom scalar value of every argument and input field (literal or from variables,
// inside input objects and nested lists, in fragments too) must be valid UTF-8 without NUL
// characters (PostgreSQL cannot store either) and no longer than its entry of
// InputMaxLengths. Codes: BAD_USER_INPUT, with extensions.argument (the field's response
// path, then the argument's) and, for a value too long, extensions.maxLength.
type InputGuard struct {
	// OnReject, if set, is told of a refused value (ReasonInput).
	OnReject func(ctx context.Context, reason string)

	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &InputGuard{}

// ExtensionName names the extension for gqlgen.
func (*InputGuard) ExtensionName() string { return "RecertInputGuard" }

// Validate keeps the schema for the argument types.
func (g *InputGuard) Validate(es graphql.ExecutableSchema) error {
	g.schema = es.Schema()
	return nil
}

// MutateOperationContext checks the operation's argument values. Codes: BAD_USER_INPUT.
func (g *InputGuard) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if err := CheckInputs(g.schema, oc.Operation, oc.Variables); err != nil {
		if g.OnReject != nil {
			g.OnReject(ctx, ReasonInput)
		}
		return gqlError(err)
	}
	return nil
}

// CheckInputs applies the input rules of InputGuard to a validated operation and its coerced
// variables. Codes: BAD_USER_INPUT.
func CheckInputs(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) *apperr.Error {
	if op == nil {
		return nil
	}
	w := inputWalker{schema: schema, vars: vars, seen: map[string]bool{}, checked: map[string]bool{}}
	return w.selections(op.SelectionSet, nil)
}

// inputPath is where a value sits, built only when a value is refused.
type inputPath struct {
	parent *inputPath
	name   string // a field, argument or input field; "" for a list index
	index  int
}

func (p *inputPath) String() string {
	if p == nil {
		return ""
	}
	s := p.parent.String()
	if p.name == "" {
		return s + "[" + strconv.Itoa(p.index) + "]"
	}
	if s == "" {
		return p.name
	}
	return s + "." + p.name
}

type inputWalker struct {
	schema *ast.Schema
	vars   map[string]any
	seen   map[string]bool // fragments already walked
	// checked holds the variables already checked as the value of an argument of a given
	// coordinate, so that a large variable used by many aliases is read once.
	checked map[string]bool
}

func (w *inputWalker) selections(set ast.SelectionSet, at *inputPath) *apperr.Error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			name := sel.Alias
			if name == "" {
				name = sel.Name
			}
			here := &inputPath{parent: at, name: name}
			if sel.Definition != nil && sel.ObjectDefinition != nil {
				owner := sel.ObjectDefinition.Name + "." + sel.Name
				if err := w.arguments(owner, sel.Definition.Arguments, sel.Arguments, here); err != nil {
					return err
				}
			}
			if err := w.directives(sel.Directives, here); err != nil {
				return err
			}
			if err := w.selections(sel.SelectionSet, here); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := w.directives(sel.Directives, at); err != nil {
				return err
			}
			if err := w.selections(sel.SelectionSet, at); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if err := w.directives(sel.Directives, at); err != nil {
				return err
			}
			if w.seen[sel.Name] || sel.Definition == nil {
				continue
			}
			w.seen[sel.Name] = true
			if err := w.selections(sel.Definition.SelectionSet, at); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *inputWalker) directives(list ast.DirectiveList, at *inputPath) *apperr.Error {
	for _, d := range list {
		if d.Definition == nil {
			continue
		}
		here := &inputPath{parent: at, name: "@" + d.Name}
		if err := w.arguments("@"+d.Name, d.Definition.Arguments, d.Arguments, here); err != nil {
			return err
		}
	}
	return nil
}

// arguments checks the given arguments of a field or directive; owner is its coordinate.
func (w *inputWalker) arguments(owner string, defs ast.ArgumentDefinitionList, args ast.ArgumentList, at *inputPath) *apperr.Error {
	for _, a := range args {
		def := defs.ForName(a.Name)
		if def == nil || a.Value == nil {
			continue
		}
		coord := owner + "(" + a.Name + ":)"
		if a.Value.Kind == ast.Variable {
			key := coord + "$" + a.Value.Raw
			if w.checked[key] {
				continue
			}
			w.checked[key] = true
		}
		v, err := a.Value.Value(w.vars)
		if err != nil {
			continue // validation has refused it already
		}
		if err := w.value(coord, def.Type, v, &inputPath{parent: at, name: a.Name}); err != nil {
			return err
		}
	}
	return nil
}

// value checks v, of type typ, found at the schema coordinate coord.
func (w *inputWalker) value(coord string, typ *ast.Type, v any, at *inputPath) *apperr.Error {
	if v == nil || typ == nil {
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok { // a single value where a list is expected is a list of one
			return w.value(coord, typ.Elem, v, at)
		}
		for i, x := range list {
			if err := w.value(coord, typ.Elem, x, &inputPath{parent: at, index: i}); err != nil {
				return err
			}
		}
		return nil
	}
	def := w.schema.Types[typ.NamedType]
	if def == nil {
		return nil
	}
	switch def.Kind {
	case ast.InputObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, f := range def.Fields {
			if x, ok := m[f.Name]; ok {
				if err := w.value(def.Name+"."+f.Name, f.Type, x, &inputPath{parent: at, name: f.Name}); err != nil {
					return err
				}
			}
		}
		return nil
	case ast.Scalar, ast.Enum:
		s, ok := v.(string)
		if !ok {
			return nil
		}
		return checkText(s, MaxInputLength(coord, def.Name), at)
	}
	return nil
}

// MaxInputLength is the cap of a value of the scalar or enum type typ at the coordinate
// coord: its InputMaxLengths entry for String and ID, its ScalarMaxLengths entry for a custom
// scalar, else DefaultMaxInputLength.
func MaxInputLength(coord, typ string) int {
	if typ == "String" || typ == "ID" {
		if n, ok := InputMaxLengths[coord]; ok {
			return n
		}
	}
	if n, ok := ScalarMaxLengths[typ]; ok {
		return n
	}
	return DefaultMaxInputLength
}

// checkText refuses a NUL character, invalid UTF-8 or more than max characters, reading at
// most max+1 characters of s.
func checkText(s string, max int, at *inputPath) *apperr.Error {
	n := 0
	for i := 0; i < len(s); n++ {
		if n == max {
			return apperr.Invalid("%s is longer than %d characters", at, max).
				With("argument", at.String()).With("maxLength", max)
		}
		c := s[i]
		if c == 0 {
			return unstorable(at)
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return unstorable(at)
		}
		i += size
	}
	return nil
}

func unstorable(at *inputPath) *apperr.Error {
	return apperr.Invalid("%s holds a NUL character or invalid UTF-8, which cannot be stored", at).
		With("argument", at.String())
}

// StorableText reports whether PostgreSQL can store s as text: valid UTF-8 without NUL.
func StorableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
