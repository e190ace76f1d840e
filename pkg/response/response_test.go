package response

import (
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-json"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
)

type plain struct {
	Envelope
	Items []string `json:"items"`
}

// appending writes the same object as plain, by hand.
type appending struct {
	Envelope
	Items []string `json:"items"`
}

func (a *appending) AppendJSON(b []byte) ([]byte, error) {
	b = append(a.AppendOpen(b), `,"items":`...)
	items, err := json.Marshal(a.Items)
	return append(append(b, items...), '}'), err
}

func write(t *testing.T, body Body, err error) *httptest.ResponseRecorder {
	t.Helper()
	gin.SetMode(gin.TestMode)
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("GET", "/", nil)
	Write(c, zap.NewNop(), body, err)
	return rec
}

// Both ways of encoding give the same answer, with its length declared.
func TestWriteEncodesEitherWay(t *testing.T) {
	items := []string{"a", "<b>", "\u2028"}
	for _, err := range []error{nil, errcode.InvalidParam.WithMsg(`video_id "x" is <not> a number`), errors.New("disk on fire")} {
		viaEncoder := write(t, &plain{Items: items}, err)
		viaAppender := write(t, &appending{Items: items}, err)
		if viaEncoder.Body.String() != viaAppender.Body.String() {
			t.Fatalf("error %v:\nencoder  %s\nappender %s", err, viaEncoder.Body, viaAppender.Body)
		}
		for _, rec := range []*httptest.ResponseRecorder{viaEncoder, viaAppender} {
			var env Envelope
			if jerr := json.Unmarshal(rec.Body.Bytes(), &env); jerr != nil {
				t.Fatalf("%s: %v", rec.Body, jerr)
			}
			if err == nil && env.StatusCode != 0 || err != nil && env.StatusCode == 0 {
				t.Errorf("error %v gave status_code %d", err, env.StatusCode)
			}
		}
	}
	if got := write(t, &appending{}, errors.New("secret detail")).Body.String(); got != `{"status_code":`+strconv.Itoa(int(errcode.Internal.Code))+`,"status_msg":`+quote(errcode.Internal.Msg)+`,"items":null}` {
		t.Errorf("an internal error answered %s", got)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
