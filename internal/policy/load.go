package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
	"go.yaml.in/yaml/v3"
)

// Options are the deployment's settings that validation depends on.
type Options struct {
	// Providers are the providers a step may name, with what the
	// deployment says of them (IoTCall's country ids, say): internal/providers
	// gives them. With none, every via entry is a problem.
	Providers provider.Kinds
	// Configured, when not nil, says which providers this deployment can
	// call; a step using another is a problem (what `check --strict` and the
	// worker ask).
	Configured map[string]bool
}

// File is what one policy file holds: policies and heartbeat monitors.
type File struct {
	Policies   []*Policy
	Heartbeats []*Heartbeat
}

// ParseFileWith reads the policies and heartbeat monitors of one YAML file
// (one per document; a file may hold several documents separated by ---),
// validating against opt. A document whose top-level mapping has the key
// heartbeat is a monitor; any other is a policy. name is the file name used
// in problems. The error, when not nil, is Problems.
func ParseFileWith(opt Options, name string, data []byte) (File, error) {
	d := &decoder{Decoder: &yamlx.Decoder{File: name}, providers: opt.Providers}
	var out File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.Problems = append(d.Problems, syntaxProblem(name, data, err))
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		if isHeartbeat(doc.Content[0]) {
			if h := d.heartbeat(doc.Content[0]); h != nil {
				out.Heartbeats = append(out.Heartbeats, h)
			}
			continue
		}
		if p := d.policy(doc.Content[0]); p != nil {
			out.Policies = append(out.Policies, p)
		}
	}
	if len(out.Policies) == 0 && len(out.Heartbeats) == 0 && len(d.Problems) == 0 {
		d.Add(nil, "", "no policy or heartbeat in file")
	}
	return out, d.Problems.Err()
}

// ParseWith reads the policies of one YAML file, as ParseFileWith, leaving
// out its heartbeat monitors (which are validated all the same).
func ParseWith(opt Options, name string, data []byte) ([]*Policy, error) {
	f, err := ParseFileWith(opt, name, data)
	return f.Policies, err
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func syntaxProblem(file string, data []byte, err error) Problem {
	msg := err.Error()
	p := Problem{File: file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		p.Line = unnamedLine(data, msg)
	}
	p.Msg = "invalid YAML: " + msg
	return p
}

// unnamedLine locates a YAML error that names no line. The YAML library
// leaves the line out for a problem on the first line and for characters its
// reader refuses; for the latter, it is the line of the first such character.
func unnamedLine(data []byte, msg string) int {
	if !strings.Contains(msg, "UTF-8") && !strings.Contains(msg, "Unicode") && !strings.Contains(msg, "control characters") {
		return 1
	}
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 || !yamlAllowed(r) {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return 1
}

// yamlAllowed reports whether YAML allows r in a stream (YAML 1.2, c-printable).
func yamlAllowed(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// LoadWith reads every policy and heartbeat monitor from paths: files, or directories whose *.yaml
// and *.yml files are read (not recursively), in name order, validating
// against opt. It reports every problem of every file at once; the error,
// when not nil, is Problems.
func LoadWith(opt Options, paths ...string) (*Set, error) {
	files, probs := expand(paths)
	set, err := loadFiles(opt, files)
	if err != nil {
		var ps Problems
		if errors.As(err, &ps) {
			probs = append(probs, ps...)
		} else {
			return nil, err
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return set, nil
}

func expand(paths []string) (files []string, probs Problems) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			probs = append(probs, Problem{File: p, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))})
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			probs = append(probs, Problem{File: p, Msg: fmt.Sprintf("cannot read directory: %v", unwrapPath(err))})
			continue
		}
		var found []string
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(e.Name(), ".") {
				found = append(found, filepath.Join(p, e.Name()))
			}
		}
		if len(found) == 0 {
			probs = append(probs, Problem{File: p, Msg: "no *.yaml or *.yml policy files in directory"})
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, probs
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func loadFiles(opt Options, files []string) (*Set, error) {
	var all []*Policy
	var beats []*Heartbeat
	var probs Problems
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			probs = append(probs, Problem{File: f, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))})
			continue
		}
		pf, err := ParseFileWith(opt, f, data)
		var pp Problems
		if errors.As(err, &pp) {
			probs = append(probs, pp...)
		}
		all = append(all, pf.Policies...)
		beats = append(beats, pf.Heartbeats...)
	}
	if opt.Configured != nil {
		probs = append(probs, strict(all, opt.Configured)...)
	}
	set, err := NewSet(all, beats...)
	var pp Problems
	if errors.As(err, &pp) {
		probs = append(probs, pp...)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return set, nil
}
