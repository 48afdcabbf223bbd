/* completion: fill-in-the-middle code completion over engine/. Placeholder until it lands. */
#ifndef HEARTH_COMPLETION_H
#define HEARTH_COMPLETION_H
#endif
