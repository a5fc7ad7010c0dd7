#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

// Accessors for readline's global variables (Swift 6 refuses direct access
// to shared mutable C globals).
static inline void bsn_rl_setup(rl_completion_func_t *complete) {
    rl_catch_signals = 0;               // bsn's own SIGINT handler only sets a flag
    rl_readline_name = "bsn";
    rl_attempted_completion_function = complete;
}
static inline const char *bsn_rl_line_buffer(void) { return rl_line_buffer; }
static inline void bsn_rl_point_to_end(void) { rl_point = rl_end; }
static inline void bsn_rl_completion_done(int append_character) {
    rl_attempted_completion_over = 1;   // no default filename completion after ours
    rl_completion_append_character = append_character;
}
