/*
 * engine/priv.h -- least privilege for canh run (priv.c): the user and
 * group canh switches to once its listeners are open, and the folders and
 * files it must be able to write as that user.
 *
 * Thread: the main thread only, before any other thread is started (the
 * switch changes the calling thread's capabilities; threads started after
 * it inherit them). canh_priv_lookup also runs at config load.
 */
#ifndef CANH_PRIV_H
#define CANH_PRIV_H

#include <stddef.h>

/* canh.yml `user:` and `group:`, resolved against the user database. */
typedef struct canh_priv {
    int on;                  /* 0: `user:` not set, canh stays as it was started */
    long uid, gid;
    int has_pw;              /* the user has an entry (its supplementary groups are set
                                from it; without one, there are none) */
    char user[64], group[64];   /* names, for messages ("4242" when only a number) */
} canh_priv_t;

/*
 * Resolves `user` (a name or a number) and `group` (a name or a number;
 * NULL: the user's own group) into *p; both NULL: p->on is 0. Refuses uid
 * 0, a group without a user, an unknown name, and a number without an
 * entry when no group is given. On failure err says why, starting with
 * the key ("user: no user 'canh' on this machine ...") and CANH_EINVAL is
 * returned.
 */
int canh_priv_lookup(canh_priv_t *p, const char *user, const char *group, char *err,
                     size_t errlen);

/*
 * Can this process become p's user and group? Yes when it already is
 * them, or has CAP_SETUID and CAP_SETGID (root); otherwise CANH_EINVAL and
 * err says so. Checked first, before canh makes or binds anything.
 */
int canh_priv_check(const canh_priv_t *p, char *err, size_t errlen);

/*
 * Before the switch (as root): makes the folder `path` (and its missing
 * parents) owned by p's user, or the file `path` (0600, never through a
 * symbolic link) when is_file. Something already there is left as it is
 * (canh_priv_usable checks it after the switch); a folder that cannot be
 * made is left to the caller's own error. Nothing to do when p->on is 0.
 * CANH_EIO with err naming `what` and `path` when the owner cannot be set.
 */
int canh_priv_prepare(const canh_priv_t *p, const char *what, const char *path, int is_file,
                      char *err, size_t errlen);

/*
 * The switch. With p->on: the user, group and supplementary groups (the
 * user's, from the group database; none for a number without an entry),
 * no capability left (permitted, effective, inheritable, ambient and the
 * bounding set all empty), and the result checked. Without: as root, a
 * warning that canh keeps full privileges; as another user, any
 * capability it was started with (systemd's AmbientCapabilities=) is
 * dropped. Either way no_new_privs is set. CANH_EINVAL (err says why)
 * when the switch fails.
 */
int canh_priv_drop(const canh_priv_t *p, char *err, size_t errlen);

/*
 * After the switch: `path` (a folder, with everything in it, or a file
 * when is_file) can be written by canh as it runs now. A folder or file
 * that is not there is fine (canh makes it). Otherwise CANH_EINVAL with
 * err naming `what`, the path, its owner and what to do. A file whose
 * folder canh cannot add files to gets a warning: reopening it after log
 * rotation then needs logrotate to make the new file. Nothing to do when
 * p->on is 0.
 */
int canh_priv_usable(const canh_priv_t *p, const char *what, const char *path, int is_file,
                     char *err, size_t errlen);

#endif
