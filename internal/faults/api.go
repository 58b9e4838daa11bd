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
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.BaseURL+"/api/v1"+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+w.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
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
