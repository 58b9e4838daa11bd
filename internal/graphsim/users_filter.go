package graphsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"
)

// A small OData $filter parser for directory objects: comparisons with eq
// and ne, the in operator, startswith/endswith, and/or/not and
// parentheses. What Graph allows only as an advanced query (ne, not,
// endswith, more than 15 or-ed clauses: docs/graph.md#users-and-groups; the 15 comes
// from Graph's own error "Too many child clauses specified in search filter
// expression containing 'OR' operators: 16. Max allowed: 15.") is refused
// unless the request is one (ConsistencyLevel: eventual and $count=true).

// filterError is a refused $filter with Graph's status, code and message.
type filterError struct {
	status  int
	code    string
	message string
}

func (e *filterError) Error() string { return e.code + ": " + e.message }

func badFilter(format string, args ...any) *filterError {
	return &filterError{http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, args...)}
}

func unsupportedFilter(format string, args ...any) *filterError {
	return &filterError{http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf(format, args...)}
}

// Bounds that keep a hostile $filter cheap to parse and evaluate.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 16
	maxOrClauses   = 15
)

// propKind is the EDM type of a filterable property.
type propKind int

const (
	kindString propKind = iota
	kindBool
)

// filterSchema names an entity's filterable properties (lower-cased) with
// their spelling and type.
type filterSchema struct {
	entity   string // microsoft.graph.user
	resource string // User, in Graph's messages
	props    map[string]filterProp
}

type filterProp struct {
	name string
	kind propKind
}

var userFilterSchema = filterSchema{entity: "microsoft.graph.user", resource: "User", props: map[string]filterProp{
	"id":                {"id", kindString},
	"userprincipalname": {"userPrincipalName", kindString},
	"mail":              {"mail", kindString},
	"displayname":       {"displayName", kindString},
	"givenname":         {"givenName", kindString},
	"surname":           {"surname", kindString},
	"usertype":          {"userType", kindString},
	"accountenabled":    {"accountEnabled", kindBool},
}}

// filterNode is one node of a parsed $filter; get reads a property (by its
// canonical name) of the object being tested: a string, a bool or nil.
type filterNode interface {
	match(get func(prop string) any) bool
}

type literal struct {
	isNull bool
	isBool bool
	b      bool
	s      string
}

func (l literal) equals(v any) bool {
	switch x := v.(type) {
	case nil:
		return l.isNull
	case bool:
		return l.isBool && l.b == x
	case string:
		// The directory compares strings case-insensitively.
		return !l.isNull && !l.isBool && strings.EqualFold(l.s, x)
	}
	return false
}

type cmpNode struct {
	prop string
	ne   bool
	val  literal
}

func (n cmpNode) match(get func(string) any) bool { return n.val.equals(get(n.prop)) != n.ne }

type inNode struct {
	prop string
	vals []literal
}

func (n inNode) match(get func(string) any) bool {
	v := get(n.prop)
	for _, l := range n.vals {
		if l.equals(v) {
			return true
		}
	}
	return false
}

type funcNode struct {
	fn   string // startswith or endswith
	prop string
	arg  string
}

func (n funcNode) match(get func(string) any) bool {
	v, _ := get(n.prop).(string)
	v, a := strings.ToLower(v), strings.ToLower(n.arg)
	if n.fn == "startswith" {
		return strings.HasPrefix(v, a)
	}
	return strings.HasSuffix(v, a)
}

type boolNode struct {
	or   bool
	l, r filterNode
}

func (n boolNode) match(get func(string) any) bool {
	if n.or {
		return n.l.match(get) || n.r.match(get)
	}
	return n.l.match(get) && n.r.match(get)
}

type notNode struct{ x filterNode }

func (n notNode) match(get func(string) any) bool { return !n.x.match(get) }

// parseFilter parses raw against schema. advanced reports whether the
// request is an advanced query.
func parseFilter(raw string, schema filterSchema, advanced bool) (filterNode, error) {
	if len(raw) > maxFilterLen {
		return nil, badFilter("Invalid filter clause: the filter is longer than %d characters.", maxFilterLen)
	}
	toks, err := lexFilter(raw)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, schema: schema, advanced: advanced}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, badFilter("Invalid filter clause: syntax error at position %d in '%s'.", p.toks[p.pos].at, raw)
	}
	if !advanced && p.orClauses > maxOrClauses {
		return nil, unsupportedFilter("Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d.",
			p.orClauses, maxOrClauses)
	}
	return n, nil
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokString
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	text string // identifier, or the unquoted string
	at   int
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tokComma, ",", i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, badFilter("Invalid filter clause: unterminated string literal at position %d.", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' { // '' is an escaped quote
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case c < 128 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || c == '_' || c == '.' || c == '/' || c == '-'):
			j := i
			for j < len(s) && s[j] < 128 && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.IndexByte("_./-", s[j]) >= 0) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j], i})
			i = j
		default:
			return nil, badFilter("Invalid filter clause: character '%c' is not valid at position %d.", rune(c), i)
		}
	}
	if len(toks) == 0 {
		return nil, badFilter("Invalid filter clause: the filter is empty.")
	}
	return toks, nil
}

type filterParser struct {
	toks      []token
	pos       int
	schema    filterSchema
	advanced  bool
	orClauses int // comparisons joined by or, and values of in lists
}

func (p *filterParser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *filterParser) keyword(word string) bool {
	if t := p.peek(); t != nil && t.kind == tokIdent && strings.EqualFold(t.text, word) {
		p.pos++
		return true
	}
	return false
}

func (p *filterParser) expect(k tokKind, what string) (*token, error) {
	t := p.peek()
	if t == nil {
		return nil, badFilter("Invalid filter clause: expected %s at the end of the filter.", what)
	}
	if t.kind != k {
		return nil, badFilter("Invalid filter clause: expected %s at position %d.", what, t.at)
	}
	p.pos++
	return t, nil
}

func (p *filterParser) or(depth int) (filterNode, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		if p.orClauses == 0 {
			p.orClauses = 1
		}
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		p.orClauses++
		l = boolNode{or: true, l: l, r: r}
	}
	return l, nil
}

func (p *filterParser) and(depth int) (filterNode, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = boolNode{l: l, r: r}
	}
	return l, nil
}

func (p *filterParser) unary(depth int) (filterNode, error) {
	if depth > maxFilterDepth {
		return nil, unsupportedFilter("Invalid filter clause: the filter is nested deeper than %d levels.", maxFilterDepth)
	}
	if p.keyword("not") {
		if !p.advanced {
			return nil, advancedOnly("not")
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	t := p.peek()
	if t == nil {
		return nil, badFilter("Invalid filter clause: expected an expression at the end of the filter.")
	}
	switch t.kind {
	case tokLParen:
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen, "')'"); err != nil {
			return nil, err
		}
		return n, nil
	case tokIdent:
		if next := p.peekAt(1); next != nil && next.kind == tokLParen {
			return p.function()
		}
		return p.comparison()
	}
	return nil, badFilter("Invalid filter clause: syntax error at position %d.", t.at)
}

func (p *filterParser) peekAt(k int) *token {
	if p.pos+k < len(p.toks) {
		return &p.toks[p.pos+k]
	}
	return nil
}

func advancedOnly(op string) *filterError {
	return unsupportedFilter("Operator '%s' is not supported because the required parameters might be missing. "+
		"Try adding $count with a value of true and the ConsistencyLevel header with a value of eventual.", op)
}

func (p *filterParser) property() (filterProp, error) {
	t, err := p.expect(tokIdent, "a property name")
	if err != nil {
		return filterProp{}, err
	}
	prop, ok := p.schema.props[strings.ToLower(t.text)]
	if !ok {
		return filterProp{}, badFilter("Could not find a property named '%s' on type '%s'.", t.text, p.schema.entity)
	}
	return prop, nil
}

func (p *filterParser) literal(prop filterProp, op string) (literal, error) {
	t := p.peek()
	if t == nil {
		return literal{}, badFilter("Invalid filter clause: expected a value at the end of the filter.")
	}
	p.pos++
	var l literal
	switch {
	case t.kind == tokString:
		l = literal{s: t.text}
	case t.kind == tokIdent && (t.text == "true" || t.text == "false"):
		l = literal{isBool: true, b: t.text == "true"}
	case t.kind == tokIdent && t.text == "null":
		return literal{isNull: true}, nil
	default:
		return literal{}, badFilter("Invalid filter clause: expected a value at position %d.", t.at)
	}
	if l.isBool != (prop.kind == kindBool) {
		have, want := "Edm.String", "Edm.Boolean"
		if prop.kind == kindString {
			have, want = want, have
		}
		return literal{}, badFilter("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.",
			want, have, op)
	}
	return l, nil
}

func (p *filterParser) comparison() (filterNode, error) {
	prop, err := p.property()
	if err != nil {
		return nil, err
	}
	opTok, err := p.expect(tokIdent, "an operator")
	if err != nil {
		return nil, err
	}
	switch op := strings.ToLower(opTok.text); op {
	case "eq", "ne":
		if op == "ne" && !p.advanced {
			return nil, advancedOnly("ne")
		}
		l, err := p.literal(prop, map[string]string{"eq": "Equal", "ne": "NotEqual"}[op])
		if err != nil {
			return nil, err
		}
		return cmpNode{prop: prop.name, ne: op == "ne", val: l}, nil
	case "in":
		if _, err := p.expect(tokLParen, "'('"); err != nil {
			return nil, err
		}
		n := inNode{prop: prop.name}
		for {
			l, err := p.literal(prop, "In")
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, l)
			if p.peek() != nil && p.peek().kind == tokComma {
				p.pos++
				continue
			}
			break
		}
		if _, err := p.expect(tokRParen, "')'"); err != nil {
			return nil, err
		}
		// Graph counts each value of an in list as an or-ed clause.
		if len(n.vals) > 1 {
			p.orClauses += len(n.vals)
		}
		return n, nil
	case "gt", "ge", "lt", "le", "has":
		return nil, unsupportedFilter("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop.name, p.schema.resource)
	}
	return nil, badFilter("Invalid filter clause: unknown operator '%s' at position %d.", opTok.text, opTok.at)
}

func (p *filterParser) function() (filterNode, error) {
	name := p.peek()
	p.pos++
	fn := strings.ToLower(name.text)
	switch fn {
	case "startswith":
	case "endswith":
		if !p.advanced {
			return nil, advancedOnly("endsWith")
		}
	default:
		return nil, unsupportedFilter("Unsupported function '%s' in the filter clause.", name.text)
	}
	p.pos++ // (
	prop, err := p.property()
	if err != nil {
		return nil, err
	}
	if prop.kind != kindString {
		return nil, unsupportedFilter("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop.name, p.schema.resource)
	}
	if _, err := p.expect(tokComma, "','"); err != nil {
		return nil, err
	}
	arg, err := p.expect(tokString, "a string")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokRParen, "')'"); err != nil {
		return nil, err
	}
	return funcNode{fn: fn, prop: prop.name, arg: arg.text}, nil
}

// usersNamedBy answers a filter that names users by id or UPN (eq, or in
// with up to 15 values: how the product resolves a roster) from the
// tenant's maps instead of testing every user: the candidates, sorted as a
// listing is, which the filter then tests as usual. ok is false for any
// other filter. A million-user cold start sends 67,000 such filters.
func (t *Tenant) usersNamedBy(f filterNode) (ids []uuid.UUID, ok bool) {
	var prop string
	var vals []literal
	switch n := f.(type) {
	case cmpNode:
		if n.ne {
			return nil, false
		}
		prop, vals = n.prop, []literal{n.val}
	case inNode:
		prop, vals = n.prop, n.vals
	default:
		return nil, false
	}
	for _, l := range vals {
		if l.isNull || l.isBool {
			return nil, false
		}
		var u *User
		switch prop {
		case "id":
			if id, err := uuid.Parse(l.s); err == nil {
				u = t.users[id]
			}
		case "userPrincipalName":
			u = t.byUPN[strings.ToLower(l.s)]
		default:
			return nil, false
		}
		if u != nil && !slices.Contains(ids, u.ID) {
			ids = append(ids, u.ID)
		}
	}
	slices.SortFunc(ids, compareUUID)
	return ids, true
}
