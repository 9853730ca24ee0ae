// Package s3 stores files in an S3-compatible bucket through
// aws-sdk-go-v2. Uploads stream: objects up to one part are sent with one
// PutObject, larger ones as a multipart upload of fixed-size parts, so
// memory stays at one part whatever the object's size; a failed upload is
// aborted and leaves no object. Reads stream too, and seeking turns into
// ranged GETs, so HTTP range requests fetch only what they serve.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hanzoai/base/files"
)

// Config configures a bucket.
type Config struct {
	// Endpoint is the S3 API origin, e.g. "http://127.0.0.1:7070"; empty
	// means AWS itself.
	Endpoint string
	// Bucket is required.
	Bucket string
	// Region is the signing region (default "us-east-1").
	Region string
	// AccessKey and SecretKey sign requests; both empty means anonymous.
	AccessKey string
	SecretKey string
	// SessionToken accompanies temporary credentials (an IAM role's, as
	// Lambda passes them in AWS_SESSION_TOKEN); empty for long-lived keys.
	SessionToken string
	// ForcePathStyle addresses the bucket as <endpoint>/<bucket>/<key>
	// instead of <bucket>.<endpoint>/<key> (virtual-hosted style).
	ForcePathStyle bool
	// Prefix is prepended to every key (e.g. "base/"); optional.
	Prefix string
	// PartSize is the multipart upload part size and the most memory one
	// upload holds (default 8 MiB; at least 5 MiB, S3's minimum).
	PartSize int64
	// HTTPClient is used for requests (default: the SDK's).
	HTTPClient *http.Client
}

// DefaultPartSize is the part size when Config.PartSize is 0.
const DefaultPartSize = 8 << 20

// minPartSize is S3's smallest allowed non-final part.
const minPartSize = 5 << 20

// Storage is a files.Storage over one bucket.
type Storage struct {
	client   *s3.Client
	bucket   string
	prefix   string
	partSize int64
	bufs     sync.Pool
}

var _ files.Storage = (*Storage)(nil)

// New returns a Storage for cfg. It does not contact the server.
func New(cfg Config) (*Storage, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 storage: a bucket is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("s3 storage: part size %d is below S3's minimum of %d", cfg.PartSize, minPartSize)
	}
	if cfg.Prefix != "" && !files.ValidPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("s3 storage: invalid prefix %q (want segments ending in /)", cfg.Prefix)
	}
	opts := s3.Options{
		Region:       cfg.Region,
		UsePathStyle: cfg.ForcePathStyle,
		// Compatible servers differ in which flexible checksums they
		// accept; send and check them only where the API requires one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(strings.TrimRight(cfg.Endpoint, "/"))
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds := aws.Credentials{AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey, SessionToken: cfg.SessionToken, Source: "base config"}
		opts.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	} else {
		opts.Credentials = aws.AnonymousCredentials{}
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	s := &Storage{client: s3.New(opts), bucket: cfg.Bucket, prefix: cfg.Prefix, partSize: cfg.PartSize}
	s.bufs.New = func() any { b := make([]byte, s.partSize); return &b }
	return s, nil
}

// Client is the underlying SDK client (tests create buckets with it).
func (s *Storage) Client() *s3.Client { return s.client }

func (s *Storage) key(key string) (string, error) {
	if !files.ValidKey(key) {
		return "", fmt.Errorf("%w: %q", files.ErrInvalidKey, key)
	}
	return s.prefix + key, nil
}

// Put implements files.Storage.
func (s *Storage) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	k, err := s.key(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if size >= 0 && int64(n) != size {
			return fmt.Errorf("put %s: got %d bytes, want %d", key, n, size)
		}
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &k, Body: bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)), ContentType: optional(contentType),
		})
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && size < int64(n) {
		return fmt.Errorf("put %s: more than the %d bytes announced", key, size)
	}
	return s.putMultipart(ctx, key, k, r, buf, size, contentType)
}

// putMultipart uploads buf (a full first part) and the rest of r in parts
// of len(buf), aborting the upload on any failure.
func (s *Storage) putMultipart(ctx context.Context, key, k string, r io.Reader, buf []byte, size int64, contentType string) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &k, ContentType: optional(contentType)})
	if err != nil {
		return fmt.Errorf("put %s: start multipart upload: %w", key, err)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &k, UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	var total int64
	n, last := len(buf), false
	for num := int32(1); ; num++ {
		total += int64(n)
		if size >= 0 && total > size {
			return fmt.Errorf("put %s: more than the %d bytes announced", key, size)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: &k, UploadId: up.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return fmt.Errorf("put %s: part %d: %w", key, num, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		if last {
			break
		}
		var rerr error
		n, rerr = io.ReadFull(r, buf)
		if errors.Is(rerr, io.EOF) {
			break
		}
		if errors.Is(rerr, io.ErrUnexpectedEOF) {
			last = true
		} else if rerr != nil {
			return fmt.Errorf("put %s: %w", key, rerr)
		}
	}
	if size >= 0 && total != size {
		return fmt.Errorf("put %s: got %d bytes, want %d", key, total, size)
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("put %s: complete multipart upload: %w", key, err)
	}
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// notFound reports whether err is S3's answer for a missing key.
func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// Open implements files.Storage: one GET of the whole object, read as far
// as the caller reads; a Seek elsewhere reopens it with a ranged GET.
func (s *Storage) Open(ctx context.Context, key string) (files.Object, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &k})
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("open %s: %w", key, files.ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	o := &object{ctx: context.WithoutCancel(ctx), s: s, key: k, body: out.Body}
	o.size = aws.ToInt64(out.ContentLength)
	o.etag = aws.ToString(out.ETag)
	if o.etag != "" && !strings.HasPrefix(o.etag, `"`) && !strings.HasPrefix(o.etag, `W/`) {
		o.etag = strconv.Quote(o.etag)
	}
	o.mod = aws.ToTime(out.LastModified)
	o.ctype = aws.ToString(out.ContentType)
	return o, nil
}

type object struct {
	// ctx is Open's context without its cancellation: ranged GETs after
	// a Seek belong to the same read. Close ends them.
	ctx     context.Context
	s       *Storage
	key     string
	size    int64
	etag    string
	mod     time.Time
	ctype   string
	body    io.ReadCloser
	bodyPos int64
	pos     int64
}

func (o *object) Size() int64         { return o.size }
func (o *object) ModTime() time.Time  { return o.mod }
func (o *object) ETag() string        { return o.etag }
func (o *object) ContentType() string { return o.ctype }

func (o *object) Read(p []byte) (int, error) {
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if o.body == nil || o.bodyPos != o.pos {
		if o.body != nil {
			o.body.Close()
			o.body = nil
		}
		out, err := o.s.client.GetObject(o.ctx, &s3.GetObjectInput{
			Bucket: &o.s.bucket, Key: &o.key, Range: aws.String("bytes=" + strconv.FormatInt(o.pos, 10) + "-"),
			IfMatch: optional(o.etag),
		})
		if err != nil {
			return 0, fmt.Errorf("read %s at %d: %w", o.key, o.pos, err)
		}
		o.body, o.bodyPos = out.Body, o.pos
	}
	n, err := o.body.Read(p)
	o.pos += int64(n)
	o.bodyPos += int64(n)
	if errors.Is(err, io.EOF) && o.pos < o.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return 0, errors.New("s3 object: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("s3 object: negative position")
	}
	o.pos = abs
	return abs, nil
}

func (o *object) Close() error {
	if o.body == nil {
		return nil
	}
	err := o.body.Close()
	o.body = nil
	return err
}

// Delete implements files.Storage.
func (s *Storage) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k}); err != nil && !notFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// DeletePrefix implements files.Storage: it lists the prefix and deletes
// what it finds in batches of up to 1000 keys.
func (s *Storage) DeletePrefix(ctx context.Context, prefix string) error {
	if !files.ValidPrefix(prefix) {
		return fmt.Errorf("delete prefix %s: %w: %q", prefix, files.ErrInvalidKey, prefix)
	}
	p := s.prefix + prefix
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &p})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("delete prefix %s: list: %w", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, obj := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: obj.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete prefix %s: %w", prefix, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue // deleted meanwhile by someone else: fine
			}
			return fmt.Errorf("delete prefix %s: key %s: %s: %s", prefix, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// CreateBucket creates the configured bucket when it does not exist yet
// (for tests and first runs against a fresh server).
func (s *Storage) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	return nil
}
