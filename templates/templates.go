// Package templates holds the templ components that render every page;
// handlers pass them small view structs, never database rows. The generated
// *_templ.go files are committed so that a fresh clone builds without templ.
package templates
