A 74-year-old retired postman from the village of Elm Cross set a national age-group record at the city marathon on Sunday, finishing in three hours and twelve minutes.

Frank Delaney only took up running at the age of sixty, after his doctor told him to lose weight. He now runs about sixty kilometres a week, mostly on the lanes around his village, and trains with a running club whose other members are half his age.

Delaney beat the previous record for men over seventy by four minutes. He said he would celebrate with "a large breakfast and a long sleep" and that he plans to run the marathon again next year.

@highlight

Frank Delaney, 74, sets a national age-group marathon record

@highlight

The retired postman finished in three hours and twelve minutes

@highlight

He took up running at sixty on his doctor's advice
