package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultRepo is where faas-cli pulls templates from when neither an
// argument nor OPENFAAS_TEMPLATE_URL names a repository.
const DefaultRepo = "https://github.com/openfaas/templates.git"

// scpLike matches git's "user@host:path" form of an ssh URL.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:`)

// Pull fetches repo (a git URL or a local repository path, optionally
// followed by "#ref" naming a branch or tag; no ref means the default
// branch) and copies each folder under its template/ folder into
// <projectDir>/template/. Existing template folders are kept unless
// overwrite is set, in which case they are replaced whole. It returns the
// names written, sorted, and reports each step to progress (nil: nowhere).
// Remote repositories are cloned into memory with go-git; local ones are
// read in place; no git binary is needed.
func Pull(ctx context.Context, repo, projectDir string, overwrite bool, progress io.Writer) ([]string, error) {
	if progress == nil {
		progress = io.Discard
	}
	url, ref := splitRef(repo)
	if url == "" {
		return nil, errors.New("pulling templates: no repository given")
	}
	shown := redact(url)
	fmt.Fprintf(progress, "Fetching templates from %s%s\n", shown, refNote(ref))
	commit, err := fetchCommit(ctx, url, ref, progress)
	if err != nil {
		return nil, fmt.Errorf("pulling templates from %s: %w", shown, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading commit %s of %s: %w", commit.Hash, shown, err)
	}
	sub, err := tree.Tree("template")
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, fmt.Errorf("%s has no template folder at %s", shown, commit.Hash)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the template folder of %s: %w", shown, err)
	}
	return copyTemplates(sub, filepath.Join(projectDir, "template"), overwrite, progress)
}

// redact hides the password of a URL with credentials.
func redact(raw string) string {
	if u, err := neturl.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}

// splitRef cuts "url#ref" at the last '#'.
func splitRef(repo string) (url, ref string) {
	repo = strings.TrimSpace(repo)
	if i := strings.LastIndexByte(repo, '#'); i >= 0 {
		return repo[:i], repo[i+1:]
	}
	return repo, ""
}

func refNote(ref string) string {
	if ref == "" {
		return ""
	}
	return " at " + ref
}

// localPath returns the folder of a local repository URL (a plain path or
// file://), or "" for a remote one.
func localPath(url string) string {
	if p, ok := strings.CutPrefix(url, "file://"); ok {
		return p
	}
	if strings.Contains(url, "://") || scpLike.MatchString(url) {
		return ""
	}
	return url
}

// fetchCommit returns the commit ref names in the repository at url.
func fetchCommit(ctx context.Context, url, ref string, progress io.Writer) (*object.Commit, error) {
	if dir := localPath(url); dir != "" {
		return localCommit(dir, ref)
	}
	return remoteCommit(ctx, url, ref, progress)
}

// localCommit reads a repository on disk in place.
func localCommit(dir, ref string) (*object.Commit, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("opening git repository %s: %w", dir, err)
	}
	rev := plumbing.Revision("HEAD")
	if ref != "" {
		rev = plumbing.Revision(ref)
	}
	h, err := r.ResolveRevision(rev)
	if err != nil {
		return nil, refError(ref, dir, localRefs(r))
	}
	return r.CommitObject(*h)
}

// localRefs lists the short names of a repository's branches and tags.
func localRefs(r *git.Repository) []string {
	iter, err := r.References()
	if err != nil {
		return nil
	}
	var refs []*plumbing.Reference
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		refs = append(refs, ref)
		return nil
	})
	return shortNames(refs)
}

// remoteCommit clones the one branch or tag (depth 1) into memory.
func remoteCommit(ctx context.Context, url, ref string, progress io.Writer) (*object.Commit, error) {
	opts := &git.CloneOptions{URL: url, Depth: 1, SingleBranch: true, Tags: git.NoTags, Progress: progress}
	if ref != "" {
		name, err := remoteRef(ctx, url, ref)
		if err != nil {
			return nil, err
		}
		opts.ReferenceName = name
	}
	r, err := git.CloneContext(ctx, memory.NewStorage(), nil, opts)
	if err != nil {
		return nil, fmt.Errorf("cloning: %w", err)
	}
	head, err := r.Head()
	if err != nil {
		return nil, fmt.Errorf("reading the cloned HEAD: %w", err)
	}
	return r.CommitObject(head.Hash())
}

// remoteRef finds ref among the remote's branches, then its tags.
func remoteRef(ctx context.Context, url, ref string) (plumbing.ReferenceName, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing branches and tags: %w", err)
	}
	for _, want := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)} {
		for _, r := range refs {
			if r.Name() == want {
				return want, nil
			}
		}
	}
	return "", refError(ref, redact(url), shortNames(refs))
}

// shortNames returns the sorted short names of the branches and tags.
func shortNames(refs []*plumbing.Reference) []string {
	var names []string
	for _, r := range refs {
		if r.Name().IsBranch() || r.Name().IsTag() {
			names = append(names, r.Name().Short())
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func refError(ref, where string, known []string) error {
	if ref == "" {
		return fmt.Errorf("%s has no HEAD commit", where)
	}
	const most = 20
	list := strings.Join(known, ", ")
	if len(known) > most {
		list = strings.Join(known[:most], ", ") + ", ..."
	}
	if list == "" {
		list = "none"
	}
	return fmt.Errorf("ref %q is neither a branch nor a tag of %s (branches and tags: %s)", ref, where, list)
}

// copyTemplates writes each folder of tree into dst.
func copyTemplates(tree *object.Tree, dst string, overwrite bool, progress io.Writer) ([]string, error) {
	var written []string
	for _, e := range tree.Entries {
		if !e.Mode.IsFile() && validName(e.Name) && e.Name != ".git" {
			sub, err := tree.Tree(e.Name)
			if err != nil {
				continue // a submodule, not a folder
			}
			ok, err := writeTemplate(sub, e.Name, dst, overwrite, progress)
			if err != nil {
				return written, err
			}
			if ok {
				written = append(written, e.Name)
			}
		}
	}
	slices.Sort(written)
	return written, nil
}

// writeTemplate writes one template folder, unless it exists and
// overwrite is unset.
func writeTemplate(tree *object.Tree, name, dst string, overwrite bool, progress io.Writer) (bool, error) {
	dir := filepath.Join(dst, name)
	if _, err := os.Lstat(dir); err == nil {
		if !overwrite {
			fmt.Fprintf(progress, "Skipped template %s: %s exists (overwrite to replace it)\n", name, dir)
			return false, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return false, fmt.Errorf("replacing template %s: %w", name, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := writeTree(tree, dir, progress); err != nil {
		return false, fmt.Errorf("writing template %s: %w", name, err)
	}
	fmt.Fprintf(progress, "Wrote template %s\n", name)
	return true, nil
}

// writeTree writes the files of tree under dir through an os.Root, so that
// no name in the repository can reach outside dir. Symbolic links are kept
// when they point inside the template and skipped otherwise.
func writeTree(tree *object.Tree, dir string, progress io.Writer) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return tree.Files().ForEach(func(f *object.File) error {
		if !fs.ValidPath(f.Name) || slices.Contains(strings.Split(f.Name, "/"), ".git") {
			fmt.Fprintf(progress, "Skipped %s: not a plain path\n", f.Name)
			return nil
		}
		if err := root.MkdirAll(path.Dir(f.Name), 0o755); err != nil {
			return err
		}
		switch f.Mode {
		case filemode.Regular, filemode.Deprecated:
			return writeBlob(root, f, 0o644)
		case filemode.Executable:
			return writeBlob(root, f, 0o755)
		case filemode.Symlink:
			return writeLink(root, f, progress)
		}
		return nil
	})
}

func writeBlob(root *os.Root, f *object.File, perm os.FileMode) error {
	r, err := f.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := root.OpenFile(f.Name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func writeLink(root *os.Root, f *object.File, progress io.Writer) error {
	target, err := f.Contents()
	if err != nil {
		return err
	}
	resolved := path.Join(path.Dir(f.Name), target)
	if path.IsAbs(target) || !fs.ValidPath(resolved) {
		fmt.Fprintf(progress, "Skipped %s: a link to %s, outside the template\n", f.Name, target)
		return nil
	}
	return root.Symlink(target, f.Name)
}
