"""Drives liverec's control plane with the official Python SDK (tencentcloud-sdk-python-live).

    python sdk_test.py PORT        (env: LIVEREC_SECRET_ID, LIVEREC_SECRET_KEY)

Every action, its happy path and its error cases, signed with TC3-HMAC-SHA256 exactly as
the SDK does it; POST JSON and GET query styles. Prints "N passed, M failed".
"""
import json
import os
import sys
import time
import traceback

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.live.v20180801 import live_client, models

PORT = sys.argv[1]
SECRET_ID = os.environ["LIVEREC_SECRET_ID"]
SECRET_KEY = os.environ["LIVEREC_SECRET_KEY"]
RESULTS = {"passed": 0, "failed": 0}


def client(secret_id=SECRET_ID, secret_key=SECRET_KEY, method="POST"):
    http = HttpProfile(endpoint=f"127.0.0.1:{PORT}", protocol="http", reqMethod=method)
    return live_client.LiveClient(credential.Credential(secret_id, secret_key), "ap-guangzhou", ClientProfile(httpProfile=http))


LIVE = client()


def call(action, params, c=None):
    c = c or LIVE
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(c, action)(request).to_json_string())


def expect_error(code, action, params, c=None):
    try:
        call(action, params, c)
    except TencentCloudSDKException as e:
        assert e.get_code() == code, f"{action}: expected {code}, got {e.get_code()}: {e.get_message()}"
        return e
    raise AssertionError(f"{action}: expected {code}, got success")


def case(fn):
    try:
        fn()
        RESULTS["passed"] += 1
        print(f"ok   {fn.__name__}")
    except Exception:  # noqa: BLE001 - report every failure and go on
        RESULTS["failed"] += 1
        print(f"FAIL {fn.__name__}")
        traceback.print_exc()
    return fn


STATE = {}


@case
def record_templates():
    created = call("CreateLiveRecordTemplate", {
        "TemplateName": "sdk_hls_mp4", "Description": "from the SDK",
        "HlsParam": {"Enable": 1, "RecordInterval": 1800, "StorageTime": 0},
        "Mp4Param": {"Enable": 1, "RecordInterval": 3600, "StorageTime": 86400, "VodFileName": "{StreamID}_{StartYear}{StartMonth}{StartDay}"},
        "HlsSpecialParam": {"FlowContinueDuration": 120},
    })
    STATE["template"] = created["TemplateId"]
    assert created["TemplateId"] >= 1
    got = call("DescribeLiveRecordTemplate", {"TemplateId": STATE["template"]})["Template"]
    assert got["Mp4Param"]["RecordInterval"] == 3600 and got["FlvParam"]["Enable"] == 0
    assert got["HlsSpecialParam"]["FlowContinueDuration"] == 120
    call("ModifyLiveRecordTemplate", {"TemplateId": STATE["template"], "Mp4Param": {"Enable": 0}})
    got = call("DescribeLiveRecordTemplate", {"TemplateId": STATE["template"]})["Template"]
    assert got["Mp4Param"]["Enable"] == 0 and got["Mp4Param"]["RecordInterval"] == 3600, "partial update keeps the rest"
    assert got["Description"] == "from the SDK"
    names = [t["TemplateName"] for t in call("DescribeLiveRecordTemplates", {})["Templates"]]
    assert "sdk_hls_mp4" in names


@case
def record_template_errors():
    e = expect_error("InvalidParameterValue", "CreateLiveRecordTemplate", {"TemplateName": "t", "Mp4Param": {"Enable": 1, "RecordInterval": 30}})
    assert "Mp4Param.RecordInterval" in e.get_message()
    expect_error("MissingParameter", "CreateLiveRecordTemplate", {"Description": "no name"})
    expect_error("InvalidParameter.InvalidVodFileName", "CreateLiveRecordTemplate", {"TemplateName": "t", "FlvParam": {"VodFileName": "../x"}})
    expect_error("FailedOperation.NotFound", "DescribeLiveRecordTemplate", {"TemplateId": 999999})
    expect_error("FailedOperation.NotFound", "ModifyLiveRecordTemplate", {"TemplateId": 999999, "Description": "x"})
    expect_error("InternalError.ConfNotFound", "DeleteLiveRecordTemplate", {"TemplateId": 999999})
    expect_error("InvalidParameterValue", "ModifyLiveRecordTemplate", {"TemplateId": STATE["template"], "HlsSpecialParam": {"FlowContinueDuration": 1801}})


@case
def record_rules():
    call("CreateLiveRecordRule", {"DomainName": "push.example.com", "AppName": "live", "TemplateId": STATE["template"]})
    rules = call("DescribeLiveRecordRules", {})["Rules"]
    assert any(r["DomainName"] == "push.example.com" and r["AppName"] == "live" for r in rules)
    expect_error("FailedOperation.RuleAlreadyExist", "CreateLiveRecordRule", {"DomainName": "push.example.com", "AppName": "live", "TemplateId": STATE["template"]})
    expect_error("InvalidParameter.ConfNotFound", "CreateLiveRecordRule", {"DomainName": "push.example.com", "StreamName": "s", "TemplateId": 999999})
    expect_error("InvalidParameter.DomainFormatError", "CreateLiveRecordRule", {"DomainName": "bad domain", "TemplateId": STATE["template"]})
    expect_error("FailedOperation.ConfInUsed", "DeleteLiveRecordTemplate", {"TemplateId": STATE["template"]})
    expect_error("InternalError.RuleNotFound", "DeleteLiveRecordRule", {"DomainName": "push.example.com", "AppName": ""})
    call("DeleteLiveRecordRule", {"DomainName": "push.example.com", "AppName": "live"})
    call("DeleteLiveRecordTemplate", {"TemplateId": STATE["template"]})
    expect_error("FailedOperation.NotFound", "DescribeLiveRecordTemplate", {"TemplateId": STATE["template"]})


@case
def record_tasks():
    now = int(time.time())
    task = call("CreateRecordTask", {"StreamName": "cam1", "DomainName": "push.example.com", "AppName": "live", "StartTime": now + 60, "EndTime": now + 3600})
    STATE["task"] = task["TaskId"]
    listed = call("DescribeRecordTask", {"StartTime": now, "EndTime": now + 7200})
    assert [t["TaskId"] for t in listed["TaskList"]] == [STATE["task"]] and listed["ScrollToken"] == ""
    call("StopRecordTask", {"TaskId": STATE["task"]})
    listed = call("DescribeRecordTask", {"StartTime": now, "EndTime": now + 7200, "StreamName": "cam1"})
    assert listed["TaskList"][0]["Stopped"] > 0
    call("DeleteRecordTask", {"TaskId": STATE["task"]})
    assert call("DescribeRecordTask", {"StartTime": now, "EndTime": now + 7200})["TaskList"] == []


@case
def record_task_errors():
    now = int(time.time())
    expect_error("InvalidParameter.InvalidTaskTime", "CreateRecordTask", {"StreamName": "s", "DomainName": "d.com", "AppName": "live", "EndTime": now - 10})
    expect_error("InvalidParameter.InvalidTaskTime", "CreateRecordTask", {"StreamName": "s", "DomainName": "d.com", "AppName": "live", "StartTime": now, "EndTime": now + 90000})
    expect_error("MissingParameter", "CreateRecordTask", {"StreamName": "s", "DomainName": "d.com", "AppName": "live"})
    for _ in range(3):
        call("CreateRecordTask", {"StreamName": "busy", "DomainName": "d.com", "AppName": "live", "EndTime": now + 600})
    expect_error("LimitExceeded.MaximumRunningTask", "CreateRecordTask", {"StreamName": "busy", "DomainName": "d.com", "AppName": "live", "EndTime": now + 600})
    expect_error("InvalidParameter.TaskNotExist", "StopRecordTask", {"TaskId": "nope"})
    expect_error("InvalidParameter.TaskNotExist", "DeleteRecordTask", {"TaskId": "nope"})
    expect_error("InvalidParameter.InvalidTaskTime", "DescribeRecordTask", {"StartTime": now, "EndTime": now + 8 * 86400})


@case
def callbacks():
    created = call("CreateLiveCallbackTemplate", {"TemplateName": "cb", "RecordNotifyUrl": "http://127.0.0.1:9/record", "CallbackKey": "secret1"})
    tid = created["TemplateId"]
    call("ModifyLiveCallbackTemplate", {"TemplateId": tid, "StreamBeginNotifyUrl": "http://127.0.0.1:9/begin"})
    got = call("DescribeLiveCallbackTemplate", {"TemplateId": tid})["Template"]
    assert got["RecordNotifyUrl"] == "http://127.0.0.1:9/record" and got["StreamBeginNotifyUrl"] == "http://127.0.0.1:9/begin"
    assert got["CallbackKey"] == "secret1"
    assert [t["TemplateId"] for t in call("DescribeLiveCallbackTemplates", {})["Templates"]] == [tid]
    call("CreateLiveCallbackRule", {"DomainName": "push.example.com", "AppName": "live", "TemplateId": tid})
    rules = call("DescribeLiveCallbackRules", {})["Rules"]
    assert rules[0]["TemplateId"] == tid and rules[0]["CreateTime"].endswith("+08:00")
    expect_error("FailedOperation.ConfInUsed", "DeleteLiveCallbackTemplate", {"TemplateId": tid})
    expect_error("InvalidParameter.InvalidCallbackUrl", "CreateLiveCallbackTemplate", {"TemplateName": "bad", "RecordNotifyUrl": "ftp://x"})
    expect_error("FailedOperation.RuleAlreadyExist", "CreateLiveCallbackRule", {"DomainName": "push.example.com", "AppName": "live", "TemplateId": tid})
    call("DeleteLiveCallbackRule", {"DomainName": "push.example.com", "AppName": "live"})
    call("DeleteLiveCallbackTemplate", {"TemplateId": tid})
    expect_error("FailedOperation.NotFound", "DescribeLiveCallbackTemplate", {"TemplateId": tid})


@case
def callback_records():
    # No callback is sent in this test (tests/data_plane.rs checks real attempts): the
    # typed request and response, both time forms, and the one-day limit.
    import time
    now = int(time.time())
    utc = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
    beijing = lambda s: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s + 8 * 3600))
    got = call("DescribeCallbackRecordsList", {"StartTime": utc(now - 3600), "EndTime": utc(now), "StreamName": "nothing", "PageNum": 1, "PageSize": 10})
    assert got["DataInfoList"] == [] and got["TotalNum"] == 0 and got["PageSize"] == 10, got
    got = call("DescribeCallbackRecordsList", {"StartTime": beijing(now - 3600), "EndTime": beijing(now), "StreamName": "nothing", "PageNum": 1, "PageSize": 10, "EventType": 100, "ResultCode": 0})
    assert got["TotalPage"] == 0, got
    expect_error("InvalidParameterValue", "DescribeCallbackRecordsList", {"StartTime": utc(now - 90000), "EndTime": utc(now), "StreamName": "s", "PageNum": 1, "PageSize": 10})


@case
def push_auth_keys():
    info = call("DescribeLivePushAuthKey", {"DomainName": "push.example.com"})["PushAuthKeyInfo"]
    assert info["Enable"] == 0
    call("ModifyLivePushAuthKey", {"DomainName": "push.example.com", "Enable": 1, "MasterAuthKey": "e12c46f2612d5106e2034781ab261ca3", "AuthDelta": 600})
    info = call("DescribeLivePushAuthKey", {"DomainName": "push.example.com"})["PushAuthKeyInfo"]
    assert (info["Enable"], info["MasterAuthKey"], info["AuthDelta"]) == (1, "e12c46f2612d5106e2034781ab261ca3", 600)
    call("ModifyLivePushAuthKey", {"DomainName": "push.example.com", "BackupAuthKey": "b2"})
    info = call("DescribeLivePushAuthKey", {"DomainName": "push.example.com"})["PushAuthKeyInfo"]
    assert info["MasterAuthKey"] == "e12c46f2612d5106e2034781ab261ca3" and info["BackupAuthKey"] == "b2", "omitted keys unchanged"
    expect_error("InvalidParameterValue", "ModifyLivePushAuthKey", {"DomainName": "push.example.com", "MasterAuthKey": "has space"})


@case
def recordings_query():
    found = LIVE.call_json("SearchMedia", {"StreamIds": ["cam1"], "Sort": {"Field": "CreateTime", "Order": "Asc"}, "Limit": 10})["Response"]
    assert found["TotalCount"] == 2, found
    assert [m["LiveRecordInfo"]["StreamName"] for m in found["MediaInfoSet"]] == ["cam1", "cam1"]
    hls = LIVE.call_json("SearchMedia", {"FileFormat": "hls", "DomainName": "PUSH.example.com"})["Response"]
    assert [m["FileId"] for m in hls["MediaInfoSet"]] == ["file-hls"]
    described = LIVE.call_json("DescribeMediaInfos", {"FileIds": ["file-hls", "nope"]})["Response"]
    assert described["NotExistFileIdSet"] == ["nope"] and described["MediaInfoSet"][0]["BasicInfo"]["Type"] == "hls"
    try:
        LIVE.call_json("SearchMedia", {"Limit": 0})
        raise AssertionError("Limit 0 accepted")
    except TencentCloudSDKException as e:
        assert e.get_code() == "InvalidParameterValue"


@case
def live_streams():
    # No push in this test (tests/live_streams.rs pushes): the typed requests and
    # responses of the live-stream actions, forbid and resume.
    online = call("DescribeLiveStreamOnlineList", {"PageNum": 1, "PageSize": 100})
    assert (online["TotalNum"], online["OnlineInfo"], online["PageSize"]) == (0, [], 100), online
    pushes = call("DescribeLiveStreamPushInfoList", {"PushDomain": "push.example.com"})
    assert (pushes["TotalNum"], pushes["DataInfoList"]) == (0, []), pushes
    stream = {"DomainName": "push.example.com", "AppName": "live", "StreamName": "cam1"}
    assert call("DescribeLiveStreamState", stream)["StreamState"] == "inactive"
    call("ForbidLiveStream", dict(stream, ResumeTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)), Reason="sdk"))
    assert call("DescribeLiveStreamState", stream)["StreamState"] == "forbid"
    call("ResumeLiveStream", stream)
    assert call("DescribeLiveStreamState", stream)["StreamState"] == "inactive"
    call("DropLiveStream", stream)
    expect_error("InvalidParameter", "ForbidLiveStream", dict(stream, ResumeTime="2000-01-01T00:00:00Z"))
    expect_error("MissingParameter", "DescribeLiveStreamState", {"DomainName": "push.example.com", "AppName": "live"})


@case
def get_style_requests():
    get = client(method="GET")
    created = call("CreateLiveRecordTemplate", {"TemplateName": "via_get", "FlvParam": {"Enable": 1, "RecordInterval": 600}}, get)
    got = call("DescribeLiveRecordTemplate", {"TemplateId": created["TemplateId"]}, get)["Template"]
    assert got["FlvParam"]["RecordInterval"] == 600 and got["TemplateName"] == "via_get"
    call("DeleteLiveRecordTemplate", {"TemplateId": created["TemplateId"]}, get)


@case
def authentication():
    expect_error("AuthFailure.SignatureFailure", "DescribeLiveRecordTemplates", {}, client(secret_key="wrong-key"))
    expect_error("AuthFailure.SecretIdNotFound", "DescribeLiveRecordTemplates", {}, client(secret_id="AKIDunknown"))


print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] else 0)
