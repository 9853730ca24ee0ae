// Package filter is Base's filter language: the PocketBase filter syntax used
// by the `filter` and `sort` query parameters, API rules and realtime
// subscription filters.
//
// Parse turns a filter string into an AST (Group, Comparison and operands);
// ParseSort turns a sort string into SortItems. Both are pure: they know
// nothing about collections or SQL. Resolving identifiers against a schema
// and compiling to SQL is the job of package rules; an in-memory evaluator
// can walk the same AST.
//
// Every error returned by this package is a plain error whose text is safe to
// log and to show; the HTTP layer reports them as 400 with the default
// message.
package filter

import "strings"

// Limits enforced by Parse and ParseSort.
const (
	// MaxLength is the maximum length of a filter string, in bytes.
	MaxLength = 3500
	// MaxComparisons is the maximum number of comparisons in one filter.
	MaxComparisons = 200
	// MaxFuncDepth is how deeply function calls may nest (f(g(x)) is 2).
	MaxFuncDepth = 2
	// MaxFuncArgs is the maximum number of arguments of a function call.
	MaxFuncArgs = 10
	// MaxPathSegments bounds the number of dotted segments of an
	// identifier. Relation hops are further limited to MaxRelationHops by
	// the compiler, which knows which segments are relations.
	MaxPathSegments = 32
	// MaxRelationHops is the maximum number of relation (or
	// back-relation) hops in one identifier path.
	MaxRelationHops = 6
	// MaxSortItems is the maximum number of sort items.
	MaxSortItems = 8
	// MaxSortItemLength is the maximum length of one sort item, in bytes.
	MaxSortItemLength = 255
)

// Expr is a boolean expression: a *Group or a *Comparison.
type Expr interface{ isExpr() }

// JoinOp joins an expression to the ones before it in a Group.
type JoinOp string

// Join operators.
const (
	And JoinOp = "&&"
	Or  JoinOp = "||"
)

// Group is a parenthesised (or top-level) sequence of expressions, joined
// left to right. && binds tighter than || (the usual SQL precedence), so
// a || b && c means a || (b && c).
type Group struct {
	Items []Item
}

// Item is one member of a Group. Join is how it joins to the previous item
// and is And for the first one.
type Item struct {
	Join JoinOp
	Expr Expr
}

// Comparison is `Left Op Right`.
type Comparison struct {
	Left  Operand
	Op    Op
	Right Operand
}

func (*Group) isExpr()      {}
func (*Comparison) isExpr() {}

// Op is a comparison operator.
type Op string

// Comparison operators. The "?" variants are the any-of forms for
// multi-valued operands.
const (
	Eq         Op = "="
	Neq        Op = "!="
	Like       Op = "~"
	NotLike    Op = "!~"
	Lt         Op = "<"
	Lte        Op = "<="
	Gt         Op = ">"
	Gte        Op = ">="
	AnyEq      Op = "?="
	AnyNeq     Op = "?!="
	AnyLike    Op = "?~"
	AnyNotLike Op = "?!~"
	AnyLt      Op = "?<"
	AnyLte     Op = "?<="
	AnyGt      Op = "?>"
	AnyGte     Op = "?>="
)

// Any reports whether o is an any-of ("?") operator.
func (o Op) Any() bool { return strings.HasPrefix(string(o), "?") }

// Plain returns o without its "?" prefix.
func (o Op) Plain() Op { return Op(strings.TrimPrefix(string(o), "?")) }

// Valid reports whether o is a known operator.
func (o Op) Valid() bool {
	switch o.Plain() {
	case Eq, Neq, Like, NotLike, Lt, Lte, Gt, Gte:
		return true
	}
	return false
}

// Operand is one side of a Comparison: *Identifier, *Text, *Number or
// *Func.
type Operand interface{ isOperand() }

// Modifier is the `:name` suffix of an identifier's last segment.
type Modifier string

// Modifiers.
const (
	ModNone    Modifier = ""
	ModEach    Modifier = "each"    // iterate the items of a multi-valued field
	ModLength  Modifier = "length"  // number of items of a multi-valued field
	ModLower   Modifier = "lower"   // LOWER() of the value
	ModIsset   Modifier = "isset"   // @request.* only: the key was sent
	ModChanged Modifier = "changed" // @request.body.* only: sent and differs from the stored value
)

// Identifier is a name: a field path (`author.name`, `data.a.0`,
// `comments_via_post.text`), a request value (`@request.auth.id`), a
// collection join (`@collection.users:u.email`), a datetime macro (`@now`)
// or one of the literals true, false and null (which resolve as fields
// when the collection has a field of that name).
type Identifier struct {
	// Raw is the identifier as written.
	Raw string
	// Path holds the dotted segments without modifier and alias, e.g.
	// ["@collection", "users", "email"] for `@collection.users:u.email`.
	Path []string
	// Alias is the join alias of an `@collection.<name>:<alias>` path.
	Alias string
	// Modifier is the suffix of the last segment, if any.
	Modifier Modifier
}

// Text is a quoted string with its escapes resolved.
type Text struct {
	Value string
}

// Number is a numeric literal.
type Number struct {
	Raw   string
	Value float64
}

// Func is a function call: geoDistance(lonA, latA, lonB, latB) or
// strftime(format, [time], [modifiers...]).
type Func struct {
	Name string
	Args []Operand
}

func (*Identifier) isOperand() {}
func (*Text) isOperand()       {}
func (*Number) isOperand()     {}
func (*Func) isOperand()       {}

// Function names.
const (
	FuncGeoDistance = "geoDistance"
	FuncStrftime    = "strftime"
)

// Root identifiers.
const (
	RootRequest    = "@request"
	RootCollection = "@collection"
)

// Request sections (the second segment of @request.*).
const (
	ReqContext = "context"
	ReqMethod  = "method"
	ReqHeaders = "headers"
	ReqQuery   = "query"
	ReqBody    = "body"
	ReqAuth    = "auth"
)

// Sort specials.
const (
	SortRandom = "@random"
	SortRowID  = "@rowid"
)

// Macros lists the datetime macros.
var Macros = []string{
	"@now", "@yesterday", "@tomorrow",
	"@todayStart", "@todayEnd", "@monthStart", "@monthEnd", "@yearStart", "@yearEnd",
	"@second", "@minute", "@hour", "@day", "@month", "@weekday", "@year",
}

// IsMacro reports whether name is a datetime macro.
func IsMacro(name string) bool {
	for _, m := range Macros {
		if m == name {
			return true
		}
	}
	return false
}

// IsRequest reports whether id is an @request.* identifier.
func (id *Identifier) IsRequest() bool { return len(id.Path) > 0 && id.Path[0] == RootRequest }

// IsCollection reports whether id is an @collection.* identifier.
func (id *Identifier) IsCollection() bool {
	return len(id.Path) > 0 && id.Path[0] == RootCollection
}

// IsMacro reports whether id is a datetime macro.
func (id *Identifier) IsMacro() bool { return len(id.Path) == 1 && IsMacro(id.Path[0]) }

// SortItem is one term of a sort list. Expr is an *Identifier (a field path,
// possibly with :lower, or the specials @random and @rowid) or a *Func.
type SortItem struct {
	Expr Operand
	Desc bool
}

// Special returns "@random" or "@rowid" when the item is one of them.
func (s SortItem) Special() string {
	if id, ok := s.Expr.(*Identifier); ok && len(id.Path) == 1 {
		switch id.Path[0] {
		case SortRandom, SortRowID:
			return id.Path[0]
		}
	}
	return ""
}

// Walk calls fn for every comparison of e, depth first, in source order.
func Walk(e Expr, fn func(*Comparison)) {
	switch e := e.(type) {
	case *Group:
		for _, it := range e.Items {
			Walk(it.Expr, fn)
		}
	case *Comparison:
		fn(e)
	}
}
