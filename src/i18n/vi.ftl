# Kyso: what a user reads, in Vietnamese (the default). Every message has its English twin in
# en.ftl under the same id (a test checks both files carry the same ids and variables).
# Ids: error-* (API error codes, also the web SDK's), purpose-*, verdict-*, reason-* (verify
# reason codes), status-* (the check before signing), dialog-*, tray-*.

## API error codes (stable; the SDK's MESSAGES are generated from these)

error-origin-not-allowed = Trang web này chưa được phép dùng chữ ký số. Hãy liên hệ bộ phận CNTT.
error-user-cancelled = Người dùng đã hủy thao tác ký.
error-timeout = Hết thời gian chờ. Vui lòng thử lại.
error-token-not-present = Chưa cắm thiết bị ký số (USB token). Hãy cắm token rồi thử lại.
error-pin-incorrect = Mã PIN không đúng.
error-pin-locked = Mã PIN đã bị khóa. Hãy liên hệ đơn vị cấp chứng thư số để mở khóa.
error-certificate-not-found = Không tìm thấy chứng thư số trên thiết bị.
error-certificate-not-valid = Chứng thư số đã hết hạn hoặc chưa có hiệu lực.
error-certificate-revoked = Chứng thư số đã bị thu hồi (hoặc chứng thư của CA cấp nó đã bị thu hồi). Không thể ký; hãy liên hệ đơn vị cấp chứng thư số.
error-revocation-unavailable = Không kiểm tra được trạng thái thu hồi của chứng thư số (OCSP/CRL không trả lời) và chính sách bắt buộc kiểm tra. Hãy kiểm tra kết nối mạng rồi thử lại.
error-bad-request = Yêu cầu không hợp lệ.
error-busy = Thiết bị ký số đang bận với một thao tác khác.
error-pdf-malformed = Tệp PDF bị hỏng hoặc không phải PDF.
error-limit-exceeded = Dữ liệu vượt quá giới hạn an toàn.
error-internal = Lỗi hệ thống. Xem nhật ký của Kyso.
error-unauthorized = Thiếu hoặc sai mã truy cập của dịch vụ PDF (Authorization: Bearer).
error-pdf-encrypted = Tệp PDF được mã hóa bằng mật khẩu; hãy gửi bản không mã hóa.
error-pdf-not-prepared = Tệp PDF chưa được chuẩn bị để ký (không có ô chữ ký trống) hoặc đã được ký.
error-cms-invalid = Chữ ký (CMS) không đọc được.
error-cms-mismatch = Chữ ký được tạo cho một tệp khác, không phải tệp đã chuẩn bị này.
error-signature-too-large = Chữ ký lớn hơn chỗ dành sẵn trong tệp; hãy chuẩn bị lại với kích thước lớn hơn.
error-placement-not-found = Không tìm thấy vị trí đặt dấu chữ ký trong văn bản.
error-image-invalid = Ảnh chữ ký hoặc con dấu không phải tệp PNG dùng được.
error-tsa-unavailable = Máy chủ dấu thời gian không trả lời hoặc trả lời không hợp lệ.
error-ticket-invalid = Xác nhận của hệ thống quản lý văn bản cho yêu cầu này không hợp lệ: chưa ký gì.
error-ticket-expired = Xác nhận của hệ thống quản lý văn bản đã hết hạn: hãy tải lại trang và thử lại.
error-ticket-replayed = Xác nhận này của hệ thống quản lý văn bản đã được dùng: hãy tải lại trang và thử lại.
error-ticket-required = Trang này phải được hệ thống quản lý văn bản xác nhận từng yêu cầu ký: chưa ký gì.

## What an error adds to its code's message (detail-*: not codes, the SDK does not take them)

detail-tries-left = Còn { $n } lần thử.
detail-few-tries = Thiết bị sẽ bị khóa nếu nhập sai thêm vài lần.
detail-pin-length = Độ dài mã PIN không hợp lệ.
detail-certificate-expired = Chứng thư số đã hết hạn.

## Error codes only the web page sees (the SDK's own)

error-agent-not-running = Chưa chạy phần mềm ký số Kyso trên máy này. Hãy cài đặt hoặc khởi động Kyso.
error-certificate-not-trusted = Trình duyệt chưa tin cậy Kyso. Chạy "kyso trust install" hoặc liên hệ bộ phận CNTT.
error-local-network-blocked = Trình duyệt đang chặn trang này kết nối tới Kyso. Hãy cho phép truy cập mạng cục bộ (Local network) cho trang.
error-api-version-unsupported = Phiên bản Kyso trên máy không tương thích. Hãy cập nhật Kyso.
error-aborted = Trang web đã hủy thao tác.

## What a signature is for (the PIN dialog)

purpose-approve = Ký phê duyệt
purpose-issue = Ký phát hành
purpose-appendix = Ký văn bản kèm theo
purpose-copy = Ký sao văn bản
purpose-incoming = Ký văn bản đến

## Certificates

kind-personal = cá nhân
kind-organization = tổ chức

## Verdicts (letter 000)

verdict-valid = hợp lệ
verdict-unknown = chưa xác định
verdict-invalid = không hợp lệ

## Labels of a verification report

label-certificate = Chứng thư số
label-verdict = Kết quả
label-validation-time = Thời điểm kiểm tra
label-path = Chuỗi chứng thư

## The verification report (kyso pdf verify)

report-yes = có
report-no = không
report-time-verified = dấu thời gian đã kiểm chứng
report-time-claimed = do người ký khai, chưa chứng thực
report-none = không có
report-policy-scanned-met = Đủ điều kiện văn bản số hóa từ văn bản giấy.
report-policy-scanned-not-met = KHÔNG đủ điều kiện văn bản số hóa, từ chối tiếp nhận:
report-policy-issued-met = Đủ điều kiện văn bản phát hành.
report-policy-issued-not-met = KHÔNG đủ điều kiện văn bản phát hành, từ chối tiếp nhận:
report-no-signature = Văn bản không có chữ ký số.
report-signature = Chữ ký
report-issuing-ca = Tổ chức cấp chứng thư
report-certificate-valid = Hiệu lực chứng thư
report-signed-at = Thời gian ký
report-intact = Toàn vẹn
report-valid-at-signing-time = Hợp lệ tại thời điểm ký
report-valid-now = Còn hiệu lực hiện nay

## Verification reasons, by stable code

reason-byte-range-invalid = không có /ByteRange hợp lệ
reason-byte-range-gap-not-contents = vùng loại trừ của /ByteRange không phải /Contents
reason-cms-damaged = chữ ký hỏng hoặc không hỗ trợ
reason-no-signer = không có người ký trong chữ ký
reason-digest-mismatch = nội dung đã ký bị thay đổi
reason-no-signer-certificate = chữ ký không kèm chứng thư số của người ký
reason-signature-invalid = giá trị chữ ký không đúng
reason-modified-after-signing = nội dung văn bản bị thay đổi sau { $timestamp ->
        [yes] dấu thời gian
       *[no] khi ký
    }
reason-timestamp-invalid = { $timestamp ->
        [yes] dấu thời gian văn bản không hợp lệ
       *[no] dấu thời gian không hợp lệ
    }
reason-signing-time-not-proven = chứng thư số không còn hiệu lực và thời điểm ký chưa được chứng thực bằng dấu thời gian
reason-tsa-not-proven = dấu thời gian chưa kiểm chứng được: { $why }
reason-no-trusted-path = chứng thư số không dẫn tới chứng thư gốc tin cậy
reason-expired = chứng thư số đã hết hạn
reason-not-yet-valid = chứng thư số chưa có hiệu lực
reason-issuer-not-ca = bên cấp chứng thư không phải tổ chức cung cấp dịch vụ chứng thực (giả mạo)
reason-issuer-key-usage = bên cấp chứng thư không được phép ký chứng thư số
reason-path-length = chuỗi chứng thư dài hơn mức bên cấp cho phép
reason-unknown-critical-extension = chứng thư số có phần mở rộng bắt buộc không xử lý được
reason-name-constraints = tên trong chứng thư số nằm ngoài phạm vi bên cấp được phép
reason-malformed-certificate = chứng thư số sai cấu trúc
reason-key-usage = chứng thư số không dùng được cho mục đích này
reason-revoked = chứng thư số đã bị thu hồi
reason-revoked-later = chứng thư số bị thu hồi sau thời điểm ký đã được chứng thực (chữ ký vẫn hợp lệ)
reason-revoked-after-claimed-time = chứng thư số đã bị thu hồi; thời điểm ký không có dấu thời gian chứng thực
reason-crl-invalid = danh sách thu hồi (CRL) không hợp lệ
reason-revocation-unavailable = không kiểm tra được trạng thái thu hồi của chứng thư số
reason-path-building-limit = chuỗi chứng thư quá phức tạp để kiểm tra
reason-unsupported-algorithm = thuật toán chữ ký không được hỗ trợ

## The certificate status check before signing

status-checking = Đang kiểm tra trạng thái chứng thư số…
status-good = Trạng thái chứng thư số: còn hiệu lực, chưa bị thu hồi (đã kiểm tra OCSP/CRL)
status-revoked = Chứng thư số đã bị thu hồi
status-unknown = CẢNH BÁO: không kiểm tra được trạng thái thu hồi của chứng thư số (máy chủ OCSP/CRL không trả lời)

## The agent's dialogs

dialog-sign-heading = Ký số văn bản
dialog-final-try = Lần thử cuối: nhập sai sẽ khóa thiết bị
dialog-tries-left = Còn { $n } lần thử
dialog-pinpad = Nhập mã PIN trên thiết bị
dialog-pinpad-waits = Thiết bị chờ trong { $seconds } giây
dialog-pin = Mã PIN:
dialog-closes-in = Tự đóng sau { $seconds } giây
dialog-origin-heading = Cho phép trang web dùng chữ ký số của bạn?
dialog-allow-once = Cho phép lần này
dialog-allow-always = Luôn cho phép
dialog-deny = Từ chối
dialog-signing-progress = Đang ký { $done }/{ $total } văn bản
dialog-keep-token = Không rút thiết bị ký số khi đang ký
dialog-stop = Dừng
dialog-close = Đóng
dialog-batch-heading = Ký { $count } văn bản
dialog-continue = Tiếp tục
dialog-document-number = Số { $number }
dialog-title-pin = Kyso — Nhập mã PIN
dialog-title-pin-final = Kyso — Nhập mã PIN (lần thử cuối)
dialog-title-pin-tries = Kyso — Nhập mã PIN (còn { $n } lần thử)
dialog-title-pinpad = Kyso — Nhập mã PIN trên thiết bị
dialog-title-batch = Kyso — Ký { $count } văn bản
dialog-title-progress = Kyso — Đang ký { $total } văn bản
dialog-sign = Ký
dialog-cancel = Hủy
dialog-copy = Sao chép
dialog-origin-question = Cho phép { $origin } dùng chữ ký số của bạn?
dialog-title-consent = Kyso — Cho phép trang web

## The PIN prompt's lines (dialog and terminal)

prompt-final-try = CẢNH BÁO: còn 1 lần thử, nhập sai sẽ khóa thiết bị
prompt-requested-by = Yêu cầu từ: { $origin }
prompt-requested-by-cli = Yêu cầu từ: kyso (dòng lệnh)
prompt-issued-by = Cấp bởi: { $issuer } — hiệu lực đến { $until }
prompt-token = Thiết bị
prompt-per-signature = Khóa yêu cầu PIN cho mỗi chữ ký (chữ ký { $n })
prompt-terminal-pin = Mã PIN (Enter trống để hủy)

## The tray

tray-agent-error = Lỗi: Kyso không chạy được
tray-pin-locked-state = PIN bị khóa: liên hệ đơn vị cấp chứng thư để mở khóa
tray-expired = Chứng thư số đã hết hạn
tray-expiring = Chứng thư số sắp hết hạn
tray-ready = Sẵn sàng ký số
tray-no-token = Chưa cắm thiết bị ký số
tray-cert-expired = đã hết hạn
tray-cert-not-yet-valid = chưa có hiệu lực
tray-cert-until = đến { $until }, còn { $days } ngày
tray-token-removed = đã rút
tray-token-present = đã cắm
tray-pin-locked = PIN bị khóa
tray-export-renewal = Xuất thông tin gia hạn chứng thư số
tray-site-by-policy = { $site } (quản trị cho phép)
tray-revoke-site = Thu hồi quyền của { $site }
tray-no-sites = (chưa có)
tray-allowed-sites = Trang web được phép
tray-open-logs = Mở thư mục nhật ký
tray-diagnostics = Chẩn đoán
tray-quit = Thoát Kyso
tray-notice-inserted = Đã cắm thiết bị ký số "{ $label }"
tray-notice-removed = Đã rút thiết bị ký số "{ $label }"
tray-notice-locked = PIN của "{ $label }" đã bị khóa. Liên hệ đơn vị cấp chứng thư số (hoặc bộ phận CNTT) để mở khóa bằng mã PUK/SO PIN.
tray-notice-expiring = Chứng thư số của { $holder } còn { $days } ngày: hãy đề nghị gia hạn

## kyso doctor, kyso certs (and the tray's diagnostics)

doctor-heading = chẩn đoán
doctor-config = Cấu hình
doctor-policy = Chính sách
doctor-port = địa chỉ của Kyso
doctor-absent = không có
doctor-trust-anchors = Gốc tin cậy
doctor-certificate-count = { $n } chứng thư
doctor-failed = LỖI
doctor-module-waiting = chưa nạp: chưa cắm token loại này (sẽ nạp khi cắm vào)
doctor-modules = Mô-đun PKCS#11
doctor-no-module = không có mô-đun nào: hãy cài trình điều khiển token hoặc đặt pkcs11_modules
doctor-tokens = Thiết bị
doctor-pin-locked = PIN BỊ KHÓA: liên hệ đơn vị cấp chứng thư để mở khóa
doctor-certificates = Chứng thư số
doctor-expires-soon = SẮP HẾT HẠN: hãy đề nghị gia hạn
doctor-days-left = còn { $days } ngày
doctor-expired = ĐÃ HẾT HẠN
doctor-not-yet-valid = CHƯA CÓ HIỆU LỰC
doctor-until = đến

## The command line

cli-error = Lỗi
cli-no-token = Không tìm thấy thiết bị ký số (kyso doctor cho biết lý do)
cli-origin-approved = người dùng cho phép
cli-user-approvals-off = người dùng không được tự cho phép
cli-revoked = Đã thu hồi
cli-not-approved = không có trong danh sách người dùng cho phép
cli-trusted = tin cậy
cli-not-trusted = chưa tin cậy
cli-ca-not-installed = Không cài được chứng thư gốc (đã cài certutil của libnss3-tools chưa?)
cli-leaf-days-left = chứng thư TLS còn { $days } ngày
cli-revocation-policy = Kiểm tra thu hồi trước khi ký
cli-not-checked = không kiểm tra
cli-revoked-upper = ĐÃ BỊ THU HỒI
cli-signed = Đã ký

## Certificate renewal (the tray)

renewal-heading = Thông tin gia hạn chứng thư số
renewal-saved = Đã lưu
renewal-paste = Dán vào danh sách đề nghị gia hạn gửi đơn vị cấp chứng thư.

## Nơi ghi số và ngày của văn bản (kyso pdf sign/prepare)

places-form-fields = số và ngày: đã tạo ô trống để văn thư điền
places-recorded = số và ngày: văn bản đã có chữ ký, nên vị trí được ghi lại trong chữ ký này (chữ ký của văn thư sẽ ghi số và ngày; không thêm ô biểu mẫu, để các chữ ký trước vẫn hợp lệ)
places-filled-fields = số và ngày: đã ghi vào các ô do chữ ký của lãnh đạo tạo
places-signature-widgets = số và ngày: chữ ký này ghi vào vị trí lãnh đạo đã đánh dấu (các chữ ký trước vẫn hợp lệ)

## Hộp thoại PIN và ký nhiều văn bản (mỗi lần một ngôn ngữ)

action-approve = Ký phê duyệt
action-issue = Ký phát hành
action-appendix = Ký văn bản kèm theo
action-copy = Ký sao văn bản
action-incoming = Ký văn bản đến
dialog-attested = xác nhận bởi hệ thống quản lý văn bản
dialog-stated-by-page = do trang web cung cấp
dialog-stated-by-cli = do dòng lệnh cung cấp
dialog-allowed-by-agency = được cơ quan cho phép
dialog-allowed-by-user = bạn đã cho phép
dialog-requester = Yêu cầu từ
dialog-requester-cli = kyso (dòng lệnh)
dialog-issuer = Cấp bởi
dialog-valid-until = hiệu lực đến
dialog-expires-soon = Chứng thư số còn { $days } ngày là hết hạn: hãy đề nghị gia hạn.
dialog-section-document = Văn bản
dialog-section-certificate = Chứng thư số
dialog-section-requester = Yêu cầu
dialog-app-name = Kyso — phần mềm ký số
