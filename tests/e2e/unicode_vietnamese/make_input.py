#!/usr/bin/env python3
"""Writes input.log next to this script: a Vietnamese application log in
which each phrase appears in NFC and NFD x lower, UPPER, Title and mIxEd
case, among near misses. Deterministic; run it again to regenerate."""
import os, unicodedata

PHRASES = [
    "Đăng nhập thất bại cho tài khoản quản trị",
    "Tài khoản nguyenvana bị khóa",
    "Truy cập trái phép",
    "Người dùng Nguyễn Văn Ánh đổi mật khẩu",
    "Phước Long: sao lưu dữ liệu hoàn tất",
]
NEAR = [
    "Dang nhap that bai cho tai khoan quan tri",      # no diacritics
    "Đăng nhập thành công cho tài khoản quản trị",    # success, not failure
    "Đăng nhập thất bài cho tài khoản quản trị",      # bài, not bại
    "Dăng nhập thất bại",                              # D, not Đ
    "Tài khoản nguyenvana đã mở khóa",                 # unlocked
    "Truy cập trái phép!",                             # equality needs the whole value
    "Nguyễn Văn Ánh",                                  # no user prefix
    "Phƣớc Long: sao lƣu dữ liệu hoàn tất",            # legacy U+01A3 look-alikes
    "ĐĂNG NHẬP THẤT BẠ",                                # cut short
]

def mixed(s):
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(s))

def forms(p):
    for case in (str.lower, str.upper, str.title, mixed, lambda s: s):
        for nf in ("NFC", "NFD"):
            yield unicodedata.normalize(nf, case(p))

lines = []
for p in PHRASES:
    lines += list(forms(p))
lines += NEAR
lines += [unicodedata.normalize("NFD", n) for n in NEAR]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "input.log")
with open(out, "w", encoding="utf-8") as f:
    for i, msg in enumerate(lines):
        f.write(f"Dec  6 08:{i // 60:02d}:{i % 60:02d} portal-dichvucong hoso[2201]: {msg}\n")
