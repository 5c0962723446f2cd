"""The catalogue of user messages, by code: Vietnamese first, English second.

Errors the domain raises (`survey.text.SurveyError` and its subclasses) and warnings it returns
carry one of these codes and the parameters named in braces; pages render them with
`survey.text.render` in the user's language, the command line in English. No message here
mentions a command-line flag: a page shows them too.
"""

from __future__ import annotations

from survey.text import Text

MESSAGES: dict[str, Text] = {
    # the database itself
    "database.newer": Text(
        "Cơ sở dữ liệu đã được một phiên bản mới hơn của phần mềm nâng cấp (bản sửa đổi "
        "{revision}), phiên bản đang chạy không đọc được. Hãy cài phiên bản mới nhất của phần "
        "mềm; dữ liệu không bị thay đổi.",
        "The database was upgraded by a newer version of this software (revision {revision}), "
        "which the running version cannot read. Install the latest version; the data were not "
        "changed."),
    # periods
    "period.invalid": Text(
        "“{text}” không phải là một kỳ. Hãy ghi theo dạng Quý 3/2024 (hoặc 2024-Q3), "
        "6 tháng đầu năm 2024 (2024-H1) hay Năm 2024 (2024).",
        "“{text}” is not a period. Write it as 2024-Q3 (or Q3/2024, Quý 3/2024), "
        "2024-H1 or 2024."),
    "period.not_quarter": Text(
        "“{text}” không phải là một quý: phiếu được thu theo quý, ví dụ Quý 3/2024 (2024-Q3).",
        "“{text}” is not a quarter: responses are collected by quarter, e.g. 2024-Q3."),
    "period.year_range": Text(
        "“{text}”: năm {year} nằm ngoài khoảng 1900–2999.",
        "“{text}”: year {year} is out of range (1900–2999)."),
    "campaign.period_ended": Text(
        "{period} đã kết thúc ngày {ended}: phiếu thu từ bây giờ vẫn được tính cho quý đã qua "
        "đó. Hãy xác nhận nếu vẫn muốn mở đợt khảo sát.",
        "{period} ended on {ended}: responses collected from now on will be counted in that past "
        "quarter. Confirm to open the campaign anyway."),
    # paper-form import (one problem: a row and column of the file, and this message)
    "import.file_type": Text("Hãy dùng tệp .csv hoặc .xlsx.", "use a .csv or .xlsx file"),
    "import.too_large": Text("Tệp lớn hơn {mb} MB: hãy chia thành nhiều tệp.",
                             "the file is larger than {mb} MB; split it into several files"),
    "import.unpacks_too_large": Text(
        "Tệp Excel giải nén ra hơn {mb} MB: hãy chia thành nhiều tệp.",
        "the workbook unpacks to more than {mb} MB; split it"),
    "import.too_many_rows": Text("Tệp có hơn {rows} dòng: hãy chia thành nhiều tệp.",
                                 "the file has more than {rows} rows; split it"),
    "import.too_many_columns": Text("Tệp có hơn {columns} cột.",
                                    "the file has more than {columns} columns"),
    "import.not_utf8": Text("Tệp CSV không phải văn bản UTF-8: hãy lưu lại dưới dạng “CSV UTF-8”.",
                            "the CSV file is not UTF-8 text (save it as CSV UTF-8)"),
    "import.unreadable": Text("Không đọc được tệp: {detail}", "cannot read the file: {detail}"),
    "import.not_xlsx": Text("Không đọc được tệp: đây không phải tệp .xlsx hợp lệ.",
                            "cannot read the file: it is not a valid .xlsx file"),
    "import.empty": Text("Tệp trống.", "the file is empty"),
    "import.no_rows": Text("Tệp không có dòng dữ liệu nào.", "the file has no data rows"),
    "import.nul": Text("Ô có ký tự NUL.", "the cell contains a NUL character"),
    "import.column_twice": Text("Cột xuất hiện hai lần.", "column appears twice"),
    "import.column_missing": Text("Thiếu cột bắt buộc.", "required column is missing"),
    "import.group_column_missing": Text(
        "Thiếu cột bắt buộc (phiếu này có nhóm người trả lời).",
        "required column is missing (this questionnaire has respondent groups)"),
    "import.fits_other": Text(
        "Các cột của tệp khớp với phiếu {other} hơn là {chosen}: hãy chọn phiếu {other}.",
        "the columns fit questionnaire {other} better than {chosen}: choose {other}"),
    "import.unknown_column": Text("Cột lạ: không phải câu hỏi của phiếu {questionnaire}.",
                                  "unknown column: not a question of {questionnaire}"),
    "import.empty_row": Text("Dòng trống.", "empty row"),
    "import.unit_empty": Text("Mã đơn vị bị để trống.", "the unit code is empty"),
    "import.unknown_unit": Text(
        "Không có đơn vị mã “{unit}”: hãy thêm đơn vị trước, hoặc chọn tạo đơn vị chưa có.",
        "unknown unit '{unit}' (add it, or let the import create unknown units)"),
    "import.unit_case": Text("Không có đơn vị mã “{unit}”: có phải là “{existing}”?",
                             "unknown unit '{unit}': did you mean '{existing}'?"),
    "import.unit_inactive": Text("Đơn vị “{unit}” đã ngừng hoạt động.",
                                 "unit '{unit}' is deactivated"),
    "import.unknown_group": Text("Nhóm “{group}” không có trong phiếu (dùng {allowed}).",
                                 "unknown group '{group}' (use {allowed})"),
    "import.no_groups": Text("Phiếu này không có nhóm người trả lời.",
                             "this questionnaire has no respondent groups"),
    "import.unknown_option": Text(
        "Phương án “{option}” không có ở câu này (dùng {allowed}, hoặc để trống).",
        "unknown option '{option}' (use {allowed}, or leave empty)"),
    "import.already_imported": Text(
        "Các dòng này đã được nhập lúc {when} ({rows} dòng, tệp “{filename}”): nhập lại sẽ "
        "tính hai lần.",
        "These rows were already imported on {when} ({rows} rows, as '{filename}'); importing "
        "them again would double-count."),
    "import.rows_already_imported": Text(
        "{count} dòng đã được nhập trước đây cho phiếu này ({earlier}): dòng {rows}. Nhập lại "
        "sẽ tính các phiếu đó hai lần. Hãy bỏ các dòng này khỏi tệp, hoặc chọn chỉ nhập các "
        "dòng mới.",
        "{count} row(s) were already imported for this questionnaire ({earlier}): row {rows}. "
        "Importing them again would count them twice. Remove them from the file, or choose to "
        "import only the new rows."),
    "import.no_new_rows": Text(
        "Mọi dòng của tệp đã được nhập trước đây cho phiếu này ({earlier}): không còn dòng mới "
        "nào để nhập.",
        "Every row of the file was already imported for this questionnaire ({earlier}): there "
        "is no new row to import."),
    "import.parent_needed": Text(
        "Đơn vị mới cần một đơn vị cấp trên trong phạm vi của bạn: hãy chọn đơn vị trực thuộc.",
        "new units need a parent unit inside your scope"),
    "import.parent_missing": Text("Không có đơn vị cấp trên “{parent}” trong phạm vi của bạn.",
                                  "parent unit '{parent}' does not exist or is outside your scope"),
    "import.parent_inactive": Text("Đơn vị cấp trên “{parent}” đã ngừng hoạt động.",
                                   "parent unit '{parent}' is deactivated"),
    # settings
    "settings.invalid": Text(
        "Cấu hình {name} = “{value}” không hợp lệ: {expected}.",
        "Setting {name} = “{value}” is not valid: {expected}."),
    # reliability of a score
    "reliability.insufficient": Text("dưới 5 phiếu: không đủ để tính khoảng tin cậy",
                                     "under 5 responses: no interval"),
    "reliability.low_reliability": Text("dưới 30 phiếu: độ tin cậy thấp",
                                        "under 30 responses: low reliability"),
    "reliability.partial": Text("có câu hỏi chưa ai trả lời", "some questions have no scored answer"),
    # PAR appraisal tables (warnings name the line, the criterion and the column)
    "par.unreadable": Text("Không đọc được tệp {source}: {detail}",
                           "{source}: cannot read the file: {detail}"),
    "par.empty": Text("Bảng điểm thẩm định trống: cần các cột criterion, max, self, appraised.",
                      "the appraisal table is empty: expected columns criterion,max,self,appraised"),
    "par.missing_columns": Text(
        "Bảng điểm thẩm định thiếu cột {missing} (các cột có: {columns}; cần criterion, max, "
        "self, appraised).",
        "the appraisal table has no column {missing} (columns: {columns}; expected "
        "criterion,max,self,appraised)"),
    "par.no_rows": Text("Bảng điểm thẩm định không có dòng tiêu chí nào dùng được.",
                        "the appraisal table has no usable criterion row"),
    "par.not_a_number": Text("{name} phải là một số ≥ 0, không phải “{value}”.",
                             "{name} must be a number ≥ 0, not {value!r}"),
    "par.zero_max": Text("Điểm tối đa áp dụng bằng 0: không tiêu chí nào được áp dụng.",
                         "the applicable maximum is 0: no criterion applies"),
    "par.row_not_number": Text(
        "Dòng {line} (tiêu chí {criterion}), cột {column}: “{value}” không phải là số; dòng "
        "này không được tính.",
        "line {line} (criterion {criterion}), column {column}: '{value}' is not a number; "
        "the row is left out"),
    "par.row_negative": Text(
        "Dòng {line} (tiêu chí {criterion}), cột {column}: {value} là số âm; dòng này không "
        "được tính.",
        "line {line} (criterion {criterion}), column {column}: {value} is negative; the row "
        "is left out"),
    "par.row_no_code": Text("Dòng {line}: thiếu mã tiêu chí; dòng này không được tính.",
                            "line {line}, column criterion: the criterion code is empty; the "
                            "row is left out"),
    "par.row_twice": Text("Dòng {line}: tiêu chí {criterion} xuất hiện hai lần; cả hai dòng "
                          "đều được tính.",
                          "line {line} (criterion {criterion}): criterion {criterion} appears "
                          "twice; both rows are counted"),
    "par.row_self_above_max": Text(
        "Dòng {line} (tiêu chí {criterion}): điểm tự chấm {value} cao hơn điểm chuẩn {maximum}; "
        "giữ nguyên như đã nhập.",
        "line {line} (criterion {criterion}), column self: self-assessed points {value} are "
        "above the maximum {maximum}; kept as given"),
    "par.row_appraised_above_max": Text(
        "Dòng {line} (tiêu chí {criterion}): điểm thẩm định {value} cao hơn điểm chuẩn "
        "{maximum}; giữ nguyên như đã nhập.",
        "line {line} (criterion {criterion}), column appraised: appraised points {value} are "
        "above the maximum {maximum}; kept as given"),
    "par.survey_above_max": Text(
        "Điểm khảo sát {score} cao hơn điểm tối đa {maximum}; giữ nguyên như đã nhập.",
        "the survey score {score} is above its maximum {maximum}; kept as given"),
    "par.stated_self_differs": Text(
        "Tổng điểm tự chấm ghi trên bảng ({stated}) khác tổng các dòng ({rows}); dùng tổng ghi "
        "trên bảng.",
        "the stated self-assessed total {stated} differs from the sum of the rows {rows}; using "
        "the stated total"),
    "par.stated_appraised_differs": Text(
        "Tổng điểm thẩm định ghi trên bảng ({stated}) khác tổng các dòng ({rows}); dùng tổng "
        "ghi trên bảng.",
        "the stated appraised total {stated} differs from the sum of the rows {rows}; using "
        "the stated total"),
    "par.printed_max_overridden": Text(
        "Dòng tổng của bảng ghi điểm chuẩn {printed}; dùng tổng điểm chuẩn đã nhập {chosen}.",
        "the table's total row states the maximum {printed}; the stated total {chosen} "
        "overrides it"),
    "par.stated_max_differs.total_row": Text(
        "Tổng điểm chuẩn {stated} (ghi ở dòng tổng của bảng) khác tổng điểm chuẩn các dòng "
        "{rows}; đang dùng {stated} (điểm tối đa áp dụng {applicable}). Theo tổng các dòng, "
        "điểm tối đa áp dụng là {with_rows}, tỷ lệ sẽ là {percent}%.",
        "the stated maximum {stated} (from the table's total row) differs from the sum of the "
        "row maxima {rows}; using the stated maximum {stated} (applicable maximum "
        "{applicable}). The row maxima would give an applicable maximum of {with_rows}, which "
        "would give {percent} %."),
    "par.stated_max_differs.given": Text(
        "Tổng điểm chuẩn đã nhập {stated} khác tổng điểm chuẩn các dòng {rows}; đang dùng "
        "{stated} (điểm tối đa áp dụng {applicable}). Theo tổng các dòng, điểm tối đa áp dụng "
        "là {with_rows}, tỷ lệ sẽ là {percent}%.",
        "the stated maximum {stated} differs from the sum of the row maxima {rows}; using the "
        "stated maximum {stated} (applicable maximum {applicable}). The row maxima would give "
        "an applicable maximum of {with_rows}, which would give {percent} %."),
    "par.total_above_max": Text(
        "Tổng điểm {total} cao hơn điểm tối đa áp dụng {maximum}.",
        "the total {total} is above the applicable maximum {maximum}"),
    # access (the scope of an account)
    "access.unit": Text("Không xem được đơn vị “{code}”: đơn vị không tồn tại hoặc ngoài phạm vi "
                        "tài khoản của bạn.",
                        "unit {code!r} does not exist or is outside your scope"),
    "access.user": Text("Tài khoản “{username}” không tồn tại hoặc ngoài phạm vi quản lý của bạn.",
                        "user {username!r} does not exist or is outside your scope"),
    "access.parent_outside": Text("Hãy chọn đơn vị cấp trên trong phạm vi tài khoản của bạn.",
                                  "choose a parent inside your scope"),
    "access.admin_role": Text("Chỉ quản trị hệ thống mới được cấp vai trò quản trị hệ thống.",
                              "only an admin may give the admin role"),
    "access.own_role": Text("Bạn không thể tự đổi vai trò hay đơn vị của chính mình.",
                            "you cannot change your own role or unit"),
    "access.reset_peer": Text(
        "Chỉ quản trị viên mới đặt lại mật khẩu của tài khoản cấp tỉnh hay quản trị ({username}).",
        "only an admin may reset the password of a province or admin account ({username})"),
    "access.own_account": Text("Bạn không thể tự khoá tài khoản của chính mình.",
                               "you cannot deactivate your own account"),
    **{f"access.right.{right}": Text(f"Tài khoản của bạn ({{role}}) không có quyền quản lý {vi}.",
                                     f"your account ({{role}}) may not manage {en}")
       for right, vi, en in (
           ("users", "tài khoản", "accounts"), ("units", "đơn vị", "units"),
           ("questionnaires", "phiếu khảo sát", "questionnaires"),
           ("campaigns", "đợt khảo sát", "campaigns"), ("imports", "việc nhập phiếu", "imports"),
           ("audit", "nhật ký", "the audit log"), ("par", "chỉ số PAR", "the PAR index"),
           ("exports", "việc xuất toàn bộ phiếu trả lời", "the export of every response"))},
    # accounts
    "account.password_short": Text("Mật khẩu cần ít nhất {n} ký tự.",
                                   "the password needs at least {n} characters"),
    "account.bad_username": Text("Tên đăng nhập gồm 1–80 ký tự, không có dấu cách.",
                                 "username: 1–80 characters without spaces"),
    "account.bad_role": Text("Vai trò “{role}” không có; chọn một trong: {roles}.",
                             "role {role!r}: use {roles}"),
    "account.exists": Text("Tài khoản “{username}” đã có; hãy chọn tên đăng nhập khác.",
                           "user {username} already exists"),
    "account.role_needs_unit": Text("Vai trò {role} cần gắn với một đơn vị: hãy chọn đơn vị.",
                                    "role {role} needs a unit"),
    "account.unit_role_on_province": Text(
        "“{code} — {name}” là cả tỉnh: tài khoản cấp đơn vị cần gắn với một đơn vị của tỉnh "
        "(hãy chọn đơn vị), hoặc chọn vai trò cấp tỉnh.",
        "{code} is the whole province: a unit account needs one of its units (or the province "
        "role)"),
    "account.last_admin": Text("“{username}” là quản trị hệ thống cuối cùng còn hoạt động: hãy "
                               "tạo thêm một quản trị hệ thống trước.",
                               "{username} is the last active admin: add another admin first"),
    "account.already_active": Text("Tài khoản “{username}” đang hoạt động.",
                                   "user {username} is already active"),
    "account.already_deactivated": Text("Tài khoản “{username}” đã bị khoá.",
                                        "user {username} is already deactivated"),
    # units
    "unit.bad_code": Text("Mã đơn vị “{code}” không hợp lệ: dùng 1–40 chữ cái không dấu, chữ số, "
                          "dấu . - hoặc _.",
                          "unit code {code!r}: use 1–40 letters, digits, '.', '-' or '_'"),
    "unit.bad_kind": Text("Đơn vị {code}: loại “{kind}” không có (chọn: {kinds}).",
                          "unit {code}: kind {kind!r} (use {kinds})"),
    "unit.exists": Text("Đơn vị {code} đã có.", "unit {code} already exists"),
    "unit.exists_other_case": Text(
        "Đã có đơn vị {existing}: mã “{code}” chỉ khác chữ hoa/chữ thường. Hãy dùng {existing}.",
        "unit {existing} already exists: {code!r} differs only in upper/lower case; use "
        "{existing}"),
    "unit.missing": Text("Không có đơn vị {code}.", "unit {code} does not exist"),
    "unit.parent_missing": Text("Không có đơn vị cấp trên {code}.",
                                "parent unit {code} does not exist"),
    "unit.deactivated": Text("Đơn vị {code} đã ngừng hoạt động.", "unit {code} is deactivated"),
    "unit.parent_deactivated": Text("Đơn vị cấp trên {code} đã ngừng hoạt động.",
                                    "parent unit {code} is deactivated"),
    "unit.name_empty": Text("Đơn vị {code}: tên không được để trống.",
                            "unit {code}: the name must not be empty"),
    "unit.name_long": Text("Đơn vị {code}: tên dài quá {n} ký tự.",
                           "unit {code}: the name is longer than {n} characters"),
    "unit.name_nul": Text("Đơn vị {code}: tên chứa ký tự không hợp lệ.",
                          "unit {code}: the name contains a NUL character"),
    "unit.move_below_itself": Text(
        "Không thể chuyển đơn vị {code} vào {parent}: {parent} là chính nó hoặc đơn vị cấp dưới "
        "của nó.",
        "unit {code} cannot move under {parent}: {parent} is {code} itself or one of its "
        "sub-units"),
    "unit.already_root": Text("Đơn vị {code} đã ở gốc của cây.",
                              "unit {code} is already under the root"),
    "unit.already_under": Text("Đơn vị {code} đã trực thuộc {parent}.",
                               "unit {code} is already under {parent}"),
    "unit.already_active": Text("Đơn vị {code} đang hoạt động.", "unit {code} is already active"),
    "unit.already_deactivated": Text("Đơn vị {code} đã ngừng hoạt động.",
                                     "unit {code} is already deactivated"),
    "unit.has_active_children": Text(
        "Đơn vị {code} còn đơn vị trực thuộc đang hoạt động ({children}): hãy ngừng hoạt động "
        "hoặc chuyển các đơn vị đó trước.",
        "unit {code} has active sub-units ({children}): deactivate or move them first"),
    "unit.under_deactivated": Text(
        "Đơn vị {code} trực thuộc đơn vị đã ngừng hoạt động {parent}: hãy mở lại {parent} trước.",
        "unit {code} is under the deactivated unit {parent}: reactivate it first"),
    # campaigns
    "campaign.days": Text("Số ngày của đợt khảo sát phải từ 1 đến {maximum} (đã nhập {days}).",
                          "the number of days must be between 1 and {maximum} (got {days})"),
    # single-use links
    "links.no_case_column": Text(
        "Tệp không có cột ma_ho_so (các cột: {columns}).",
        "the file has no column ma_ho_so (columns: {columns})"),
    "links.unreadable": Text("Không đọc được tệp danh sách hồ sơ: {error}.",
                             "cannot read the case file: {error}"),
    "links.no_case": Text("Tệp không có mã hồ sơ nào.", "the file holds no case code"),
    "links.case_too_long": Text("Mã hồ sơ quá dài (tối đa {maximum} ký tự): {code}.",
                                "a case code is too long (at most {maximum} characters): {code}"),
    "links.count": Text("Số đường dẫn phải từ 1 đến {maximum} (đã nhập {count}).",
                        "the number of links must be between 1 and {maximum} (got {count})"),
    "links.days": Text("Số ngày hiệu lực phải từ 1 đến {maximum} (đã nhập {days}).",
                       "the number of days must be between 1 and {maximum} (got {days})"),
}

MESSAGES.update({
    # questionnaire files (the key path, e.g. criteria[0].questions[1].scale, is shown beside)
    "questionnaire.missing_key": Text("thiếu khoá bắt buộc", "required key is missing"),
    "questionnaire.unknown_key": Text("khoá không có trong định dạng phiếu (xem mẫu phiếu trong "
                                      "README)",
                                      "unknown key (see the questionnaire format in README)"),
    "questionnaire.bad_value": Text("giá trị không hợp lệ ({detail})", "{detail}"),
    "questionnaire.title_long": Text("tên phiếu tiếng Việt dài quá {n} ký tự",
                                     "the Vietnamese title is longer than {n} characters"),
    "questionnaire.option_twice": Text("mã phương án “{code}” bị dùng hai lần",
                                       "option code {code!r} is used twice"),
    "questionnaire.scale_empty": Text("thang đo cần ít nhất một phương án",
                                      "a scale needs at least one option"),
    "questionnaire.scale_unscored": Text("thang đo cần ít nhất một phương án có điểm",
                                         "a scale needs at least one scored option"),
    "questionnaire.group_twice": Text("mã nhóm “{code}” bị dùng hai lần",
                                      "group code {code!r} is used twice"),
    "questionnaire.criterion_twice": Text("mã tiêu chí “{code}” bị dùng hai lần",
                                          "criterion code {code!r} is used twice"),
    "questionnaire.question_twice": Text("mã câu hỏi “{code}” bị dùng hai lần",
                                         "question code {code!r} is used twice"),
    "questionnaire.scale_undefined": Text(
        "câu {question}: thang đo “{scale}” chưa được khai báo trong 'scales' (đã có: {defined})",
        "question {question}: scale {scale!r} is not defined under 'scales' (defined: {defined})"),
    "questionnaire.question_points": Text(
        "tiêu chí {criterion}: tổng điểm các câu là {total}, nhưng điểm của tiêu chí là {points}",
        "criterion {criterion}: question points sum to {total}, but the criterion's points are "
        "{points}"),
    "questionnaire.max_points": Text(
        "tổng điểm các tiêu chí là {total}, nhưng max_points là {maximum}",
        "criteria points sum to {total}, but max_points is {maximum}"),
    "questionnaire.not_yaml": Text("tệp không đúng cú pháp YAML: {detail}", "not valid YAML: {detail}"),
    "questionnaire.too_deep": Text("tệp YAML lồng quá sâu", "the YAML is nested too deeply"),
    "questionnaire.not_mapping": Text("tệp phải là một bảng YAML (khoá: giá trị)",
                                      "the file must be a YAML mapping (key: value)"),
    "questionnaire.not_utf8": Text("tệp không phải văn bản UTF-8", "the file is not UTF-8 text"),
})

ROLE_NAMES: dict[str, Text] = {
    "admin": Text("quản trị hệ thống", "admin"),
    "province": Text("cấp tỉnh", "province"),
    "unit": Text("cấp đơn vị", "unit"),
}


AUDIT_ACTIONS: dict[str, Text] = {
    "login": Text("Đăng nhập", "Signed in"),
    "login_failed": Text("Đăng nhập không thành công", "Failed sign-in"),
    "logout": Text("Đăng xuất", "Signed out"),
    "password_changed": Text("Đổi mật khẩu", "Password changed"),
    "password_reset": Text("Cấp lại mật khẩu dùng một lần", "One-time password issued"),
    "user_created": Text("Tạo tài khoản", "Account created"),
    "user_role_changed": Text("Đổi vai trò / đơn vị của tài khoản", "Account role or unit changed"),
    "user_deactivated": Text("Khoá tài khoản", "Account deactivated"),
    "user_reactivated": Text("Mở khoá tài khoản", "Account reactivated"),
    "unit_added": Text("Thêm đơn vị", "Unit added"),
    "unit_renamed": Text("Đổi tên đơn vị", "Unit renamed"),
    "unit_moved": Text("Chuyển đơn vị", "Unit moved"),
    "unit_deactivated": Text("Ngừng hoạt động đơn vị", "Unit deactivated"),
    "unit_reactivated": Text("Mở lại đơn vị", "Unit reactivated"),
    "questionnaire_registered": Text("Đăng ký phiếu khảo sát", "Questionnaire registered"),
    "transactions_recorded": Text("Ghi số hồ sơ giải quyết", "Files handled recorded"),
    "responses_exported": Text("Xuất phiếu trả lời (ẩn danh)", "Responses exported (anonymised)"),
    "import": Text("Nhập phiếu giấy", "Paper forms imported"),
    "import_refused": Text("Nhập phiếu giấy bị từ chối", "Paper-form import refused"),
    "campaign_opened": Text("Mở đợt khảo sát", "Campaign opened"),
    "campaign_closed": Text("Đóng đợt khảo sát", "Campaign closed"),
    "campaign_revoked": Text("Thu hồi đường dẫn khảo sát", "Campaign link revoked"),
    "campaign_rotated": Text("Thay đường dẫn khảo sát", "Campaign link replaced"),
    "par_saved": Text("Lưu bảng điểm PAR", "PAR table saved"),
    "export": Text("Tải dữ liệu xuống", "Data exported"),
}

AUDIT_DETAIL_KEYS: dict[str, Text] = {
    "role": Text("vai trò", "role"), "unit": Text("đơn vị", "unit"),
    "name": Text("tên", "name"), "parent": Text("trực thuộc", "parent"),
    "kind": Text("loại", "kind"), "from": Text("trước", "before"), "to": Text("sau", "after"),
    "rows": Text("số dòng", "rows"), "questionnaire": Text("phiếu", "questionnaire"),
    "batch": Text("lô nhập", "batch"), "problems": Text("số lỗi", "problems"),
    "outcome": Text("kết quả", "outcome"), "file": Text("tệp", "file"),
    "created_units": Text("đơn vị tạo mới", "units created"),
    "only_new_rows": Text("chỉ nhập các dòng mới", "only the new rows"),
    "skipped_rows": Text("số dòng đã nhập trước đây, bỏ qua", "rows imported before, skipped"),
    "skipped_first": Text("các dòng bỏ qua (đầu tiên)", "skipped rows (first)"),
}
