// Command kstatus prints what sigs.k8s.io/cli-utils' kstatus library (the one Flux, kpt and
// `kubectl wait`-like tools use) computes for Kubernetes objects.
//
// Input on stdin: one object as JSON, or a list ({"items": [...]}, as `kubectl get -o json` prints).
// Output: one JSON line per object: {"name": ..., "status": "Current|InProgress|Failed|...", "message": ...}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var doc struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("stdin is not a JSON object: %w", err)
	}
	raw := doc.Items
	if raw == nil {
		raw = []json.RawMessage{data}
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for i, item := range raw {
		// Decoded as the API machinery does (integers as int64), which kstatus expects.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(item); err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		if err := enc.Encode(result{Name: u.GetName(), Status: res.Status.String(), Message: res.Message}); err != nil {
			return err
		}
	}
	return nil
}
