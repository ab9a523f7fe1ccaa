/* test_session.c - the planner's view-model (quant/session.h), no curses. */
#include "config.h"

#include "quant/session.h"
#include "tap.h"

int main(void)
{
	ok(pj_ladder(false, &(const pj_dtype *){ NULL }) == 0 || 1, "session API links");
	return done_testing();
}
