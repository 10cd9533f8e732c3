import time

from django.http import HttpResponse
from django.urls import path

from kassa.urls import urlpatterns as kassa_urlpatterns


def slow(request):
    time.sleep(60)
    return HttpResponse("too late")


urlpatterns = [path("slow/", slow), *kassa_urlpatterns]
