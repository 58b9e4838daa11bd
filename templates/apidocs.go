package templates

// APIDocs is the API reference page's content: the operations of the
// tenant API grouped by tag, as its OpenAPI document describes them.
type APIDocs struct {
	Title, Version, Description string
	SpecURL                     string // the OpenAPI document, for tools
	Groups                      []APIGroup
}

// APIGroup is the operations of one tag.
type APIGroup struct {
	Name       string
	Operations []APIOperation
}

// APIOperation is one operation.
type APIOperation struct {
	ID, Method, Path, Summary, Description, Scope string
	Parameters                                    []APIField
	Request                                       []APIField // the body's fields, nested ones as a.b
	Responses                                     []APIResponse
}

// APIField is a parameter or a body field.
type APIField struct {
	Name, In, Type, Description string
	Required                    bool
}

// APIResponse is one status an operation may answer, with the body's
// fields for a success.
type APIResponse struct {
	Status, Description string
	Fields              []APIField
}
