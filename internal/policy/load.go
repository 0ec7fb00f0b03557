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

// File is what policy files hold: policies, heartbeat monitors, people
// files and shared rosters.
type File struct {
	Policies   []*Policy
	Heartbeats []*Heartbeat
	// People are the people files (documents whose top-level key is
	// people), in the order read.
	People []*PeopleFile
	// Rosters are the shared rosters (documents whose top-level key is
	// roster), in the order read.
	Rosters []*Roster
}

// ParseFileWith reads the policies, heartbeat monitors, people files and
// shared rosters of one YAML file (one per document; a file may hold several
// documents separated by ---), validating against opt. A document whose
// top-level mapping has the key heartbeat is a monitor; one whose key roster
// holds a name is a shared roster; one with the key people and neither name
// nor steps is a people file; any other is a policy. The file's policies may
// name the people and rosters it defines, and no others. name is the file
// name used in problems. The error, when not nil, is Problems.
func ParseFileWith(opt Options, name string, data []byte) (File, error) {
	rf := parseFile(opt, name, data)
	out := link([]*rawFile{rf})
	return out, rf.d.Problems.Err()
}

// parseFile reads the documents of one file; their names are checked by link.
func parseFile(opt Options, name string, data []byte) *rawFile {
	d := &decoder{Decoder: &yamlx.Decoder{File: name}, providers: opt.Providers}
	rf := &rawFile{d: d}
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
		top := doc.Content[0]
		switch {
		case isHeartbeat(top):
			if h := d.heartbeat(top); h != nil {
				rf.heartbeats = append(rf.heartbeats, h)
			}
		case isRoster(top):
			if rr := d.sharedRoster(top); rr != nil {
				rf.rosters = append(rf.rosters, rr)
			}
		case isPeople(top):
			if pf, defs := d.peopleFile(top); pf != nil {
				rf.people = append(rf.people, pf)
				rf.defs = append(rf.defs, defs...)
			}
		default:
			if rp := d.policy(top); rp != nil {
				rf.policies = append(rf.policies, rp)
				rf.defs = append(rf.defs, rp.own...)
			}
		}
	}
	if len(rf.policies) == 0 && len(rf.heartbeats) == 0 && len(rf.people) == 0 && len(rf.rosters) == 0 && len(d.Problems) == 0 {
		d.Add(nil, "", "no policy, heartbeat, people or roster in file")
	}
	return rf
}

// ParseWith reads the policies of one YAML file, as ParseFileWith, leaving
// out its heartbeat monitors, people files and rosters (which are validated
// all the same).
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

// LoadWith reads every policy, heartbeat monitor, people file and shared
// roster from paths: files, or directories whose *.yaml and *.yml files are
// read (not recursively), in name order, validating against opt. Every
// policy may name the people and rosters of every file. It reports every
// problem of every file at once, and returns a set only when there is none:
// a problem in one file (a people file or a roster used by every policy)
// makes the whole set invalid. The error, when not nil, is Problems.
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
	var raw []*rawFile
	var probs Problems
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			probs = append(probs, Problem{File: f, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))})
			continue
		}
		raw = append(raw, parseFile(opt, f, data))
	}
	all := link(raw)
	for _, rf := range raw {
		probs = append(probs, rf.d.Problems...)
	}
	if opt.Configured != nil {
		probs = append(probs, strict(all.Policies, opt.Configured)...)
	}
	set, err := NewFileSet(all)
	var pp Problems
	if errors.As(err, &pp) {
		probs = append(probs, pp...)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return set, nil
}
