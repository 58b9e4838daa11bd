package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"presencebridge/internal/graphsim"
)

// buildSeed is the directory to apply: the generated one, or the seed
// file's tenants (and app, when the file names one), plus the app flags.
func buildSeed(o options) (graphsim.Seed, error) {
	seed := graphsim.GenerateSeed(o.tenants, o.users, o.monitors, o.seed)
	if o.seedFile != "" {
		file, err := readSeedFile(o.seedFile)
		if err != nil {
			return graphsim.Seed{}, err
		}
		seed.Tenants = file.Tenants
		if file.App.ClientID != "" {
			seed.App = file.App
		} else {
			seed.App.RedirectURIs = append(seed.App.RedirectURIs, file.App.RedirectURIs...)
		}
	}
	if o.clientID != "" {
		seed.App.ClientID = o.clientID
	}
	if o.clientSecret != "" {
		seed.App.ClientSecret = o.clientSecret
	}
	seed.App.RedirectURIs = append(seed.App.RedirectURIs, o.redirectURIs...)
	return seed, nil
}

// readSeedFile decodes a seed strictly (an unknown field is a typo) and
// names the line and column of the first mistake.
func readSeedFile(path string) (graphsim.Seed, error) {
	var seed graphsim.Seed
	data, err := os.ReadFile(path)
	if err != nil {
		return seed, fmt.Errorf("--seed-file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return seed, fmt.Errorf("--seed-file %s: %s: %v", path, position(data, errorOffset(err, data, dec)), err)
	}
	if dec.More() {
		return seed, fmt.Errorf("--seed-file %s: %s: more than one JSON value", path, position(data, dec.InputOffset()))
	}
	return seed, nil
}

// errorOffset is where in the input a decoding error was found. encoding/json
// gives no offset for an unknown field: the first key of that name is it.
// Other errors without an offset (an early end) are placed where the
// decoder stopped.
func errorOffset(err error, data []byte, dec *json.Decoder) int64 {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return syntax.Offset - 1 // the offending byte was the last one read
	case errors.As(err, &typ):
		return typ.Offset
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		key := regexp.MustCompile(regexp.QuoteMeta(name) + `\s*:`)
		if loc := key.FindIndex(data); loc != nil {
			return int64(loc[0])
		}
	}
	return dec.InputOffset()
}

// position turns a byte offset into "line L, column C" (both from 1).
func position(data []byte, offset int64) string {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}
