/* The build configuration of OTS as mukaika compiles it (setup.py): OTS's own defaults
 * (meson_options.txt) without the Graphite tables, which PDF and Office readers never use:
 * they are dropped like any other table OTS does not know. */
#define PACKAGE "ots"
#define VERSION "9.2.0"
#define OTS_SYNTHESIZE_MISSING_GVAR 1
#define OTS_COLR_CYCLE_CHECK 1
