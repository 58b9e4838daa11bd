package config

import (
	"strings"
	"testing"
)

// TestProductionRefusesPlainHTTPForMicrosoft: the identity platform and
// Graph carry client secrets, authorization codes and tokens, so
// production talks to them over https only — loopback and a compose
// service name (graphsim's) included; development may use http (graphsim).
func TestProductionRefusesPlainHTTPForMicrosoft(t *testing.T) {
	for _, name := range []string{"PB_LOGIN_BASE_URL", "PB_GRAPH_BASE_URL"} {
		for _, url := range []string{"http://graphsim:9090", "http://127.0.0.1:9090", "http://localhost:9090", "http://[::1]:9090"} {
			_, err := Load(with(validProduction, name, url), false)
			if want := name + ": must use https in production"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("production with %s=%s: %v, want %q", name, url, err, want)
			}
			if _, err := Load(with(validProduction, "PB_ENV", "development", name, url), false); err != nil {
				t.Errorf("development with %s=%s: %v", name, url, err)
			}
		}
		if _, err := Load(with(validProduction, name, "https://login.microsoftonline.us"), false); err != nil {
			t.Errorf("production with %s on https: %v", name, err)
		}
	}
}
