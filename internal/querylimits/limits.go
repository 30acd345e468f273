package querylimits

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/recert/recert/internal/apperr"
)

// Limits bounds what one GraphQL document may ask of the server. Every check runs before the
// document is validated or executed, and every one is linear in the size of the document: a
// fragment is walked once however many times it is spread (OWASP GraphQL cheat sheet,
// "Query limiting"; the protections GraphQL Armor gives JavaScript servers).
type Limits struct {
	// MaxBytes caps the length of the document text.
	MaxBytes int
	// MaxTokens caps the lexical tokens of the document (comments included).
	MaxTokens int
	// MaxDepth caps the nesting of fields, with fragments expanded.
	MaxDepth int
	// MaxAliases caps the aliased fields written in the document.
	MaxAliases int
	// MaxDirectives caps the directives written in the document.
	MaxDirectives int
	// MaxFragments caps the fragment definitions.
	MaxFragments int
	// MaxSpreads caps the fragment spreads written in the document.
	MaxSpreads int
	// MaxCost caps the cost of the operation (see Cost).
	MaxCost int
	// ListBounds prices the lists (see Cost); nil means DefaultListBounds.
	ListBounds ListBounds
}

// DefaultLimits are generous for the SPA, the mobile apps and the support tools (the deepest
// query of the API nests 9 fields; GraphiQL's introspection query nests 13) and refuse the
// hostile classes: deep, wide, aliased, directive floods, fragment fan-out, token floods.
var DefaultLimits = Limits{
	MaxBytes:      32 << 10,
	MaxTokens:     3000,
	MaxDepth:      15,
	MaxAliases:    30,
	MaxDirectives: 30,
	MaxFragments:  50,
	MaxSpreads:    100,
	MaxCost:       10000,
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return Limits{
		MaxBytes: pick(l.MaxBytes, d.MaxBytes), MaxTokens: pick(l.MaxTokens, d.MaxTokens),
		MaxDepth: pick(l.MaxDepth, d.MaxDepth), MaxAliases: pick(l.MaxAliases, d.MaxAliases),
		MaxDirectives: pick(l.MaxDirectives, d.MaxDirectives), MaxFragments: pick(l.MaxFragments, d.MaxFragments),
		MaxSpreads: pick(l.MaxSpreads, d.MaxSpreads), MaxCost: pick(l.MaxCost, d.MaxCost),
		ListBounds: l.ListBounds,
	}
}

// Rejection reasons, used as the `reason` label of the rejected-documents metric.
const (
	ReasonSize       = "size"
	ReasonTokens     = "tokens"
	ReasonDepth      = "depth"
	ReasonAliases    = "aliases"
	ReasonDirectives = "directives"
	ReasonFragments  = "fragments"
	ReasonSpreads    = "spreads"
	ReasonCost       = "cost"
	ReasonPageSize   = "page_size"
)

// LimitError is a document refused by a limit: Err is the client-facing apperr value
// (QUERY_TOO_DEEP, QUERY_TOO_COMPLEX or BAD_USER_INPUT) and Reason the metric label.
type LimitError struct {
	Reason string
	Err    *apperr.Error
}

func (e *LimitError) Error() string { return e.Err.Error() }
func (e *LimitError) Unwrap() error { return e.Err }

func tooComplex(reason, format string, args ...any) *LimitError {
	return &LimitError{Reason: reason, Err: apperr.E(apperr.QueryTooComplex, format, args...)}
}

// CheckDocument applies the schema-free limits to the text of a document: size, tokens,
// fragment definitions, spreads, aliases, directives and depth. A document that does not
// parse passes (the parser's own error reaches the client later, as BAD_USER_INPUT).
// Codes: QUERY_TOO_COMPLEX, QUERY_TOO_DEEP.
func CheckDocument(query string, l Limits) *LimitError {
	l = l.withDefaults()
	if len(query) > l.MaxBytes {
		return tooComplex(ReasonSize, "the document is larger than %d bytes", l.MaxBytes)
	}
	// Count tokens with the lexer alone before building any syntax tree.
	lex := lexer.New(&ast.Source{Input: query})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			break
		}
		if n >= l.MaxTokens {
			return tooComplex(ReasonTokens, "the document has more than %d tokens", l.MaxTokens)
		}
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil
	}
	if len(doc.Fragments) > l.MaxFragments {
		return tooComplex(ReasonFragments, "the document defines more than %d fragments", l.MaxFragments)
	}
	var c docCounts
	for _, op := range doc.Operations {
		c.directives += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			c.directives += len(v.Directives)
		}
		c.selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		c.directives += len(f.Directives)
		c.selections(f.SelectionSet)
	}
	switch {
	case c.aliases > l.MaxAliases:
		return tooComplex(ReasonAliases, "the document uses more than %d aliases", l.MaxAliases)
	case c.directives > l.MaxDirectives:
		return tooComplex(ReasonDirectives, "the document uses more than %d directives", l.MaxDirectives)
	case c.spreads > l.MaxSpreads:
		return tooComplex(ReasonSpreads, "the document spreads fragments more than %d times", l.MaxSpreads)
	}
	d := depthWalker{frags: doc.Fragments, memo: map[string]int{}}
	for _, op := range doc.Operations {
		if depth := d.set(op.SelectionSet); depth > l.MaxDepth {
			return &LimitError{Reason: ReasonDepth, Err: apperr.E(apperr.QueryTooDeep,
				"the operation nests fields %d deep; the limit is %d", depth, l.MaxDepth)}
		}
	}
	return nil
}

// docCounts counts what is written in the document, each selection set once.
type docCounts struct{ aliases, directives, spreads int }

func (c *docCounts) selections(set ast.SelectionSet) {
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				c.aliases++
			}
			c.directives += len(s.Directives)
			c.selections(s.SelectionSet)
		case *ast.InlineFragment:
			c.directives += len(s.Directives)
			c.selections(s.SelectionSet)
		case *ast.FragmentSpread:
			c.spreads++
			c.directives += len(s.Directives)
		}
	}
}

// depthWalker computes the field depth of selection sets with fragments expanded, walking
// each fragment once (memo). A fragment met again while it is being walked is a cycle, which
// validation refuses; it counts 0 here.
type depthWalker struct {
	frags ast.FragmentDefinitionList
	memo  map[string]int // fragment name -> depth; -1 while in progress
}

func (d *depthWalker) set(set ast.SelectionSet) int {
	depth := 0
	for _, s := range set {
		var n int
		switch s := s.(type) {
		case *ast.Field:
			n = 1 + d.set(s.SelectionSet)
		case *ast.InlineFragment:
			n = d.set(s.SelectionSet)
		case *ast.FragmentSpread:
			n = d.fragment(s.Name)
		}
		depth = max(depth, n)
	}
	return depth
}

func (d *depthWalker) fragment(name string) int {
	if v, ok := d.memo[name]; ok {
		return max(v, 0)
	}
	f := d.frags.ForName(name)
	if f == nil {
		return 0
	}
	d.memo[name] = -1
	v := d.set(f.SelectionSet)
	d.memo[name] = v
	return v
}

// gqlError wraps a client-facing apperr value for gqlgen, which wants *gqlerror.Error from
// extensions; the error presenter unwraps it and sends the apperr code.
func gqlError(err *apperr.Error) *gqlerror.Error {
	return &gqlerror.Error{Err: err, Message: err.Message}
}

// String describes the limits for logs.
func (l Limits) String() string {
	return fmt.Sprintf("bytes=%d tokens=%d depth=%d aliases=%d directives=%d fragments=%d spreads=%d cost=%d",
		l.MaxBytes, l.MaxTokens, l.MaxDepth, l.MaxAliases, l.MaxDirectives, l.MaxFragments, l.MaxSpreads, l.MaxCost)
}
