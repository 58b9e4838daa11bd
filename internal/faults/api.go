package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// API calls the tenant API with the world's key, as the telephony
// platform would; out, when not nil, receives the JSON answer. It
// returns the status.
func (w *World) API(ctx context.Context, method, path string, body, out any) (int, error) {
	return callJSON(ctx, method, w.BaseURL+"/api/v1"+path, http.Header{"Authorization": {"Bearer " + w.APIKey}}, body, out)
}

// callJSON sends body (when not nil) as JSON to url and decodes a 2xx
// answer into out (when not nil); another status is an error with the
// answer's body. It returns the status.
func callJSON(ctx context.Context, method, url string, header http.Header, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

// Endpoint is the receiver's endpoint as the API shows it.
type Endpoint struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Enabled bool   `json:"enabled"`
}

// ReceiverEndpoint finds the receiver's endpoint through the API.
func (w *World) ReceiverEndpoint(ctx context.Context) (Endpoint, error) {
	var list struct {
		Data []Endpoint `json:"data"`
	}
	if _, err := w.API(ctx, http.MethodGet, "/endpoints", nil, &list); err != nil {
		return Endpoint{}, err
	}
	for _, e := range list.Data {
		if e.URL == w.Receiver.URL {
			return e, nil
		}
	}
	return Endpoint{}, fmt.Errorf("no endpoint at %s among %d", w.Receiver.URL, len(list.Data))
}
